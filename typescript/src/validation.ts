/** Checks made before anything is sent: a refused argument never reaches the server. */

import { InvalidInputError } from "./errors.js";

const MAX_ID_LENGTH = 100; // V0 refuses longer ids with 400 "Conversation ID is too long"
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const REPO_SEGMENT_RE = /^[A-Za-z0-9_.-]+$/;
const MAX_MESSAGE_CHARS = 1_000_000;

export function validateId(value: unknown, what = "conversation id"): string {
  if (typeof value !== "string") throw new InvalidInputError(`The ${what} must be a string, got ${typeof value}`);
  if (!value) throw new InvalidInputError(`The ${what} is empty`);
  if (value.length > MAX_ID_LENGTH) throw new InvalidInputError(`The ${what} is ${value.length} characters long; ids are at most ${MAX_ID_LENGTH}`);
  if (!ID_RE.test(value)) throw new InvalidInputError(`The ${what} ${JSON.stringify(value.slice(0, 40))} has characters an id cannot have`);
  return value;
}

export function validateLimit(value: number, low: number, high: number, what = "limit"): number {
  if (!Number.isInteger(value)) throw new InvalidInputError(`The ${what} must be an integer, got ${value}`);
  if (value < low || value > high) throw new InvalidInputError(`The ${what} must be between ${low} and ${high}, got ${value}`);
  return value;
}

export function validateRepository(value: unknown): string {
  if (typeof value !== "string") throw new InvalidInputError("The repository must be given as owner/repo");
  const parts = value.split("/");
  if (parts.length < 2 || parts.some((part) => !REPO_SEGMENT_RE.test(part))) {
    throw new InvalidInputError(`The repository ${JSON.stringify(value)} must look like owner/repo`);
  }
  return value;
}

export function validateMessage(value: unknown, what = "message"): string {
  if (typeof value !== "string") throw new InvalidInputError(`The ${what} must be text, got ${typeof value}`);
  if (!value.trim()) throw new InvalidInputError(`The ${what} is empty; give the agent something to do`);
  if (value.length > MAX_MESSAGE_CHARS) throw new InvalidInputError(`The ${what} is ${value.length} characters long; the limit is ${MAX_MESSAGE_CHARS}`);
  return value;
}

export function validateTitle(value: unknown): string {
  if (typeof value !== "string" || !value.trim()) throw new InvalidInputError("The title is empty");
  if (value.length > 200) throw new InvalidInputError(`The title is ${value.length} characters long; the limit is 200`);
  return value;
}
