#!/usr/bin/env node
// `stelar` command line: run a server, poke a server, check a server's health.
// One file per command under cli/; cli/args.mjs parses arguments and reports usage errors.
import { fail, parseCommand, usageError, version } from './cli/args.mjs';
import * as connect from './cli/connect.mjs';
import * as health from './cli/health.mjs';
import * as serve from './cli/serve.mjs';

const USAGE = `usage: stelar <command> [options]

  stelar serve   [--port 3000] [--tcp-port 3001] [--host 0.0.0.0] [--redis redis://127.0.0.1:6379]
                 [--dashboard [--dashboard-token <token>]]   live dashboard at /dashboard
  stelar connect <url> [--tcp]     interactive client (type "help" once connected)
  stelar health  <url>             prints the server's /health JSON; exit 1 when unhealthy

  stelar <command> --help          a command's options
  stelar --version                 the installed version
`;

const commands = { serve, connect, health };

async function main([command, ...rest]) {
  if (command === undefined) usageError('missing command', USAGE);
  if (command === '--help' || command === '-h' || command === 'help') {
    const topic = rest[0];
    if (topic !== undefined && Object.hasOwn(commands, topic)) process.stdout.write(commands[topic].usage);
    else if (topic !== undefined) usageError(`unknown command "${topic}"`, USAGE);
    else process.stdout.write(USAGE);
    process.exit(0);
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${version()}\n`);
    process.exit(0);
  }
  if (!Object.hasOwn(commands, command)) {
    usageError(command.startsWith('-') ? `unknown option ${command}` : `unknown command "${command}"`, USAGE);
  }
  const { spec, run } = commands[command];
  await run(parseCommand(spec, rest));
}

// A failure we did not foresee is still one line; STELAR_DEBUG=1 shows its stack.
main(process.argv.slice(2)).catch((err) => {
  if (process.env.STELAR_DEBUG) process.stderr.write(`${err?.stack ?? err}\n`);
  fail(`unexpected error: ${err?.message ?? err}`);
});
