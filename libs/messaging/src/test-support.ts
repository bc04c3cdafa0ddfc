/**
 * Tests only (not exported). `@berth/testing` is not linked into node_modules yet (the workspace was
 * added after the last install), so fall back to its build output; drop this file once
 * node_modules/@berth/testing exists and import the package directly.
 */
import type * as Testing from '@berth/testing';

function load(): typeof Testing {
  try {
    return require('@berth/testing') as typeof Testing;
  } catch {
    return require('../../testing/dist') as typeof Testing;
  }
}

export const { createTestNamespace, waitFor } = load();
export type { TestNamespace } from '@berth/testing';
