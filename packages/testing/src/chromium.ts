import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export type { BrowserContext, Page } from 'playwright-core';

/** The system's Chromium (Debian's package); playwright-core drives it and downloads no browser. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here, or undefined when Chromium is installed. */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM)
    ? undefined
    : `no chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;
}

export interface LaunchChromiumOptions {
  /** The API token: the page asks for Basic auth and the browser answers `admin` / this. */
  password: string;
  /** Switches beyond the quiet headless set every test uses (e.g. `--autoplay-policy=…`). */
  args?: string[];
  viewport?: { width: number; height: number };
}

export interface LaunchedChromium {
  context: BrowserContext;
  /** Closes the browser and removes its profile directory. */
  close(): Promise<void>;
}

/** Headless Chromium with a profile of its own in the temp directory, no sandbox, GPU or updates. */
export async function launchChromium(options: LaunchChromiumOptions): Promise<LaunchedChromium> {
  const profile = mkdtempSync(path.join(tmpdir(), 'eufy-relay-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-sync',
        ...(options.args ?? []),
      ],
      httpCredentials: { username: 'admin', password: options.password },
      ...(options.viewport ? { viewport: options.viewport } : {}),
    });
    return {
      context,
      close: async () => {
        try {
          await context.close();
        } finally {
          rmSync(profile, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
}
