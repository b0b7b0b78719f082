// What every `stelar` command shares: parsing its arguments, and reporting a user's mistake as
// one line (plus the command's usage, exit status 2), never as a stack trace.
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

/** Prints `stelar: message` and exits (1: something failed; 2: the command line was wrong). */
export function fail(message, code = 1) {
  process.stderr.write(`stelar: ${message}\n`);
  process.exit(code);
}

/** A command-line mistake: what is wrong, then how the command is used; exit status 2. */
export function usageError(message, synopsis) {
  process.stderr.write(`stelar: ${message}\n${synopsis}`);
  process.exit(2);
}

export function version() {
  return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
}

/**
 * Parses `args` for a command described by `spec`:
 *   { usage, synopsis, options: { name: { type: 'string' | 'boolean', short? } }, positionals: ['url', ...] }
 * Every positional named in `spec.positionals` is required and no others are accepted.
 * `-h`/`--help` prints the usage and exits 0; a mistake prints the synopsis and exits 2. Returns { values, positionals }.
 *
 * Node's parseArgs runs non-strict (it would throw ERR_PARSE_ARGS_* with a stack trace) and
 * its tokens are checked here, so each mistake gets its own one-line message.
 */
export function parseCommand(spec, args) {
  const options = { ...spec.options, help: { type: 'boolean', short: 'h' } };
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  if (tokens.some((t) => t.kind === 'option' && t.name === 'help')) {
    process.stdout.write(spec.usage);
    process.exit(0);
  }
  const values = {};
  const positionals = [];
  for (const t of tokens) {
    if (t.kind === 'positional') positionals.push(t.value);
    if (t.kind !== 'option') continue;
    const def = options[t.name];
    if (!def) usageError(`unknown option ${t.rawName}`, spec.synopsis);
    if (def.type === 'boolean') {
      if (t.inlineValue) usageError(`${t.rawName} takes no value`, spec.synopsis);
      values[t.name] = true;
    } else {
      // `--host --port 3000`: the next option is not a value. A single dash is (`--port -1`),
      // so the number's own check reports it.
      if (t.value === undefined || (!t.inlineValue && t.value.startsWith('--'))) usageError(`${t.rawName} needs a value`, spec.synopsis);
      values[t.name] = t.value;
    }
  }
  const wanted = spec.positionals ?? [];
  if (positionals.length < wanted.length) usageError(`missing <${wanted[positionals.length]}>`, spec.synopsis);
  if (positionals.length > wanted.length) usageError(`unexpected argument "${positionals[wanted.length]}"`, spec.synopsis);
  return { values, positionals };
}

/** Imports a module of the built library (dist/), with a clear message when it is not built. */
export async function loadLibrary(file = 'index.js') {
  const url = new URL(`../../dist/${file}`, import.meta.url);
  if (!existsSync(url)) fail('the library is not built (no dist/): run `npm run build` first');
  return import(url.href);
}
