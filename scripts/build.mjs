// Build: TypeScript -> dist/ (ESM + .d.ts), then the browser bundles of the client.
// Runs on `npm install` (prepare) and before `npm test`, so a fresh clone is always usable.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

let tscBin;
try {
  tscBin = require.resolve('typescript/bin/tsc');
} catch {
  // Installed as a dependency of someone else's project without dev deps: dist/ ships prebuilt.
  if (existsSync(join(root, 'dist', 'index.js'))) process.exit(0);
  console.error('typescript is not installed: run `npm install` in the project first');
  process.exit(1);
}

// `--clean` wipes stale output first (CI and release); plain builds only overwrite,
// so a test process reading dist/ never sees it vanish under it.
if (process.argv.includes('--clean')) rmSync(join(root, 'dist'), { recursive: true, force: true });
// `--sourcemap` adds .js.map files so coverage (npm run coverage, npm test) is reported against src/*.ts;
// the published build (prepare) has none, as the maps would point at sources the package does not ship.
const tscArgs = process.argv.includes('--sourcemap') ? ['--sourceMap'] : [];
execFileSync(process.execPath, [tscBin, '-p', join(root, 'tsconfig.json'), ...tscArgs], { stdio: 'inherit', cwd: root });

const browserEntry = join(root, 'src', 'client', 'browser.ts');
if (existsSync(browserEntry)) {
  const esbuild = await import('esbuild');
  const common = { entryPoints: [browserEntry], bundle: true, platform: 'browser', target: 'es2020', logLevel: 'warning' };
  await esbuild.build({ ...common, format: 'esm', outfile: join(root, 'dist', 'browser', 'stelar-client.mjs') });
  await esbuild.build({ ...common, format: 'iife', globalName: 'Stelar', outfile: join(root, 'dist', 'browser', 'stelar-client.global.js') });
  // The bundle's declarations, next to it (package.json points the browser `types` here): the
  // ones tsc emitted for its entry, which reference no Node types (test/docs/types.test.mjs).
  writeFileSync(
    join(root, 'dist', 'browser', 'stelar-client.d.mts'),
    "// Declarations of stelar-client.mjs, the browser build of the client (src/client/browser.ts).\nexport * from '../client/browser.js';\n",
  );
}
