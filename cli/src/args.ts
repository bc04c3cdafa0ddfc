/** A deliberately small argument parser: positionals, `--flag`, `--key value`, `--key=value`, `-f`. */
export interface ParsedArgs {
  readonly positionals: string[];
  readonly flags: Map<string, string | true>;
}

export function parseArgs(argv: readonly string[], valued: readonly string[] = []): ParsedArgs {
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1));
      else if (valued.includes(a.slice(2)) && i + 1 < argv.length) flags.set(a.slice(2), argv[++i]);
      else flags.set(a.slice(2), true);
    } else if (a.startsWith('-') && a.length > 1 && !/^-\d/.test(a)) {
      if (a.length === 2 && valued.includes(a[1]) && i + 1 < argv.length) flags.set(a[1], argv[++i]);
      else for (const ch of a.slice(1)) flags.set(ch, true);
    } else {
      positionals.push(a);
    }
  }
  return { positionals, flags };
}

export function flag(args: ParsedArgs, ...names: string[]): boolean {
  return names.some((n) => args.flags.has(n));
}

export function numberFlag(args: ParsedArgs, name: string, fallback: number): number {
  const v = args.flags.get(name);
  if (v === undefined || v === true) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number, got "${v}"`);
  return n;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
