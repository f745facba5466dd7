// The functions passed to page.evaluate run in the browser.
/// <reference lib="dom" />
import {
  launchChromium,
  type BrowserContext,
  type LaunchedChromium,
  type Page,
} from '@eufy-relay/testing/chromium';
import { API_TOKEN, sleep } from './harness';

// A real headless Chromium (Debian's) for the tests that watch a video URL as a person would.

/** A test file's browser: launched before its tests (with the admin's password), closed after them. */
export function useBrowser(): { readonly context: BrowserContext } {
  const parts = {} as { context: BrowserContext };
  let chromium: LaunchedChromium | undefined;
  beforeAll(async () => {
    chromium = await launchChromium({
      password: API_TOKEN,
      args: ['--autoplay-policy=no-user-gesture-required'],
    });
    parts.context = chromium.context;
  });
  afterAll(async () => {
    await chromium?.close();
  });
  return parts;
}

export interface PlayerState {
  currentTime: number;
  ended: boolean;
  paused: boolean;
  error: number | null;
  duration: number;
}

/**
 * Opens a video URL as a person does: Chromium shows it in its own player. Before the first second
 * of video exists the URL answers with a page that reloads itself, so this waits for the player.
 */
export async function openVideo(browser: BrowserContext, url: string, tab?: Page): Promise<Page> {
  const page = tab ?? (await browser.newPage());
  await page.goto(url, { waitUntil: 'commit' });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const found = await page.evaluate(() => document.querySelector('video') !== null).catch(() => false);
    if (found) return page;
    if (Date.now() > deadline) throw new Error(`no player for ${url}: ${await page.content()}`);
    await sleep(100);
  }
}

export const playerState = (page: Page) =>
  page.evaluate((): PlayerState => {
    const v = document.querySelector('video')!;
    return {
      currentTime: v.currentTime,
      ended: v.ended,
      paused: v.paused,
      error: v.error?.code ?? null,
      duration: v.duration,
    };
  });

/** Plays the opened video at `rate` times real time until it ends by itself (bounded). */
export async function playToEnd(page: Page, rate: number, timeoutMs = 30_000): Promise<PlayerState> {
  await page.waitForFunction((r) => {
    const v = document.querySelector('video');
    if (!v || v.readyState < 1) return false;
    v.playbackRate = r;
    return true;
  }, rate);
  await page.waitForFunction(() => document.querySelector('video')!.ended, undefined, { timeout: timeoutMs });
  return playerState(page);
}
