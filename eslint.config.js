// Nx module boundaries: a service never imports another service; the executor is reached only
// through its queue; docker-api is the gateway's alone.
const nx = require('@nx/eslint-plugin');
const tsParser = require('@typescript-eslint/parser');
const tseslint = require('typescript-eslint');

module.exports = [
  { ignores: ['**/dist/**', '**/node_modules/**', '**/build/**', 'executor-native/src/**/*.c*'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tsParser },
    plugins: { '@nx': nx, '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-require-imports': 'error',
      '@nx/enforce-module-boundaries': ['error', {
        allow: [],
        enforceBuildableLibDependency: false,
        depConstraints: [
          { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
          { sourceTag: 'scope:gateway', onlyDependOnLibsWithTags: ['scope:shared', 'scope:gateway'] },
          { sourceTag: 'scope:images', onlyDependOnLibsWithTags: ['scope:shared'] },
          { sourceTag: 'scope:containers', onlyDependOnLibsWithTags: ['scope:shared'] },
          { sourceTag: 'scope:network', onlyDependOnLibsWithTags: ['scope:shared'] },
          { sourceTag: 'scope:volumes', onlyDependOnLibsWithTags: ['scope:shared'] },
          { sourceTag: 'scope:executor', onlyDependOnLibsWithTags: ['scope:shared'] },
          { sourceTag: 'scope:cli', onlyDependOnLibsWithTags: ['scope:shared'] },
          { sourceTag: 'type:lib', notDependOnLibsWithTags: ['type:service'] },
          { sourceTag: 'type:service', notDependOnLibsWithTags: ['type:service'] }
        ]
      }]
    }
  }
];
