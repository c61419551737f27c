import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';

/** Reads a file named by a setting; an unreadable file is a ConfigError naming `setting`. */
export function readSettingFile(path: string, setting: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(
      setting,
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/** A secret (token, password) kept in a file: its text without the final newline; empty is an error. */
export function readSecretFile(path: string, setting: string): string {
  const secret = readSettingFile(path, setting)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (!secret.trim()) throw new ConfigError(setting, `${path} is empty`);
  return secret;
}
