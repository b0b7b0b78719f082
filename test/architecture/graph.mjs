// The import graph of src/**/*.ts, read from the source text (no compiler), and the checks
// run on it: import cycles and the layer table. Used by imports.test.mjs; every function
// also works on in-memory sources so the checker itself can be tested.
//
// Edges: `import ... from '...'`, `import '...'`, `import type ...`, `export ... from '...'`,
// `export type ... from '...'` and `import('...')` with a string literal. Type-only imports
// are edges too (a type cycle is still a cycle between modules, and a layer breach).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join, posix, relative, sep } from 'node:path';

// ---------------------------------------------------------------------------------------
// Lexer: just enough TypeScript to find import/export statements reliably. Comments are
// skipped, strings and template literals are single tokens (with `${}` expressions lexed),
// and regular-expression literals are recognised by the usual previous-token heuristic so a
// quote or `//` inside a regex cannot derail the scan.

const PUNCT_BEFORE_REGEX = new Set([
  '(',
  ',',
  '=',
  ':',
  '[',
  '!',
  '&',
  '|',
  '?',
  '{',
  '}',
  ';',
  '+',
  '-',
  '*',
  '%',
  '<',
  '>',
  '~',
  '^',
  '=>',
  '&&',
  '||',
  '??',
]);
const KEYWORDS_BEFORE_REGEX = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);

/** Tokens: { t: 'id' | 'str' | 'tpl' | 'num' | 'p' | 'regex', v, line }. */
export function tokenize(text) {
  const tokens = [];
  const braceStack = []; // for template literals: 'tpl' marks a `${` opened inside a template
  let i = 0;
  let line = 1;
  const n = text.length;
  const push = (t, v, l) => tokens.push({ t, v, line: l });
  const regexAllowed = () => {
    const prev = tokens[tokens.length - 1];
    if (!prev) return true;
    if (prev.t === 'p') return PUNCT_BEFORE_REGEX.has(prev.v) && prev.v !== ')' && prev.v !== ']';
    if (prev.t === 'id') return KEYWORDS_BEFORE_REGEX.has(prev.v);
    return false;
  };
  // Reads a template literal body starting after '`' (or after the '}' closing a `${`).
  const readTemplate = () => {
    const startLine = line;
    let value = '';
    while (i < n) {
      const c = text[i];
      if (c === '\\') {
        value += text.slice(i, i + 2);
        if (text[i + 1] === '\n') line++;
        i += 2;
        continue;
      }
      if (c === '`') {
        i++;
        push('tpl', value, startLine);
        return;
      }
      if (c === '$' && text[i + 1] === '{') {
        i += 2;
        push('tpl', value, startLine);
        braceStack.push('tpl');
        return;
      }
      if (c === '\n') line++;
      value += c;
      i++;
    }
    throw new SyntaxError(`unterminated template literal from line ${startLine}`);
  };

  while (i < n) {
    const c = text[i];
    if (c === '\n') {
      line++;
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v' || c === '\uFEFF') {
      i++;
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new SyntaxError(`unterminated comment at line ${line}`);
      for (let k = i; k < end; k++) if (text[k] === '\n') line++;
      i = end + 2;
      continue;
    }
    if (c === '"' || c === "'") {
      const startLine = line;
      let value = '';
      i++;
      while (i < n && text[i] !== c) {
        if (text[i] === '\n') throw new SyntaxError(`unterminated string at line ${startLine}`);
        if (text[i] === '\\') {
          value += text[i + 1];
          i += 2;
        } else value += text[i++];
      }
      i++;
      push('str', value, startLine);
      continue;
    }
    if (c === '`') {
      i++;
      readTemplate();
      continue;
    }
    if (/[A-Za-z_$\u0080-\uffff]/.test(c)) {
      let j = i + 1;
      while (j < n && /[\w$\u0080-\uffff]/.test(text[j])) j++;
      push('id', text.slice(i, j), line);
      i = j;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(text[i + 1] ?? ''))) {
      let j = i + 1;
      while (j < n && /[\w.]/.test(text[j])) j++;
      push('num', text.slice(i, j), line);
      i = j;
      continue;
    }
    if (c === '/' && regexAllowed()) {
      const startLine = line;
      let j = i + 1;
      let inClass = false;
      while (j < n) {
        const d = text[j];
        if (d === '\n') throw new SyntaxError(`unterminated regular expression at line ${startLine}`);
        if (d === '\\') j += 2;
        else {
          if (d === '[') inClass = true;
          else if (d === ']') inClass = false;
          else if (d === '/' && !inClass) break;
          j++;
        }
      }
      j++;
      while (j < n && /\w/.test(text[j])) j++;
      push('regex', text.slice(i, j), startLine);
      i = j;
      continue;
    }
    if (c === '{') {
      braceStack.push('{');
      push('p', c, line);
      i++;
      continue;
    }
    if (c === '}') {
      const top = braceStack.pop();
      i++;
      if (top === 'tpl') readTemplate();
      else push('p', c, line);
      continue;
    }
    const three = text.slice(i, i + 3);
    const two = text.slice(i, i + 2);
    if (three === '...' || three === '===' || three === '!==') {
      push('p', three, line);
      i += 3;
    } else if (['=>', '&&', '||', '??', '==', '!=', '<=', '>=', '?.'].includes(two)) {
      push('p', two, line);
      i += 2;
    } else {
      push('p', c, line);
      i++;
    }
  }
  return tokens;
}

// ---------------------------------------------------------------------------------------
// Import extraction.

const isP = (tok, v) => tok !== undefined && tok.t === 'p' && tok.v === v;
const isId = (tok, v) => tok !== undefined && tok.t === 'id' && (v === undefined || tok.v === v);
const isStr = (tok) => tok !== undefined && tok.t === 'str';

/** Index just past the `}` matching the `{` at `k`, or -1. */
function skipBraces(tokens, k) {
  let depth = 0;
  for (; k < tokens.length; k++) {
    if (isP(tokens[k], '{')) depth++;
    else if (isP(tokens[k], '}') && --depth === 0) return k + 1;
  }
  return -1;
}

/**
 * Every module specifier a source file names, in order:
 * { specifier, line, typeOnly, kind: 'import' | 'side-effect' | 'export' | 'dynamic' | 'require' }.
 * `typeOnly` is true for `import type` / `export type` (they still count as edges).
 */
export function parseImports(text) {
  const tokens = tokenize(text);
  const out = [];
  for (let k = 0; k < tokens.length; k++) {
    const tok = tokens[k];
    if (tok.t !== 'id' || (tok.v !== 'import' && tok.v !== 'export')) continue;
    const prev = tokens[k - 1];
    if (isP(prev, '.') || isP(prev, '?.')) continue; // obj.import / obj.export
    let j = k + 1;
    if (isP(tokens[j], ':')) continue; // { import: ... } object key

    if (tok.v === 'import') {
      if (isP(tokens[j], '.')) continue; // import.meta
      if (isP(tokens[j], '(')) {
        if (isStr(tokens[j + 1]) && (isP(tokens[j + 2], ')') || isP(tokens[j + 2], ','))) {
          out.push({ specifier: tokens[j + 1].v, line: tok.line, typeOnly: false, kind: 'dynamic' });
        }
        continue;
      }
      if (isStr(tokens[j])) {
        out.push({ specifier: tokens[j].v, line: tok.line, typeOnly: false, kind: 'side-effect' });
        continue;
      }
      // `import type X ...` unless `type` is itself the default binding (`import type from`, `import type, {..}`).
      let typeOnly = false;
      if (isId(tokens[j], 'type') && !isP(tokens[j + 1], ',') && !(isId(tokens[j + 1], 'from') && isStr(tokens[j + 2])) && !isP(tokens[j + 1], '=')) {
        typeOnly = true;
        j++;
      }
      // default binding
      if (isId(tokens[j]) && !isId(tokens[j], 'from')) {
        if (isP(tokens[j + 1], '=')) {
          // import x = require('y')
          if (isId(tokens[j + 2], 'require') && isP(tokens[j + 3], '(') && isStr(tokens[j + 4])) {
            out.push({ specifier: tokens[j + 4].v, line: tok.line, typeOnly, kind: 'require' });
          }
          continue;
        }
        j++;
        if (isP(tokens[j], ',')) j++;
      } else if (isId(tokens[j], 'from') && !isStr(tokens[j + 1])) {
        j++; // a default binding literally named `from`
        if (isP(tokens[j], ',')) j++;
      }
      if (isP(tokens[j], '{')) j = skipBraces(tokens, j);
      else if (isP(tokens[j], '*') && isId(tokens[j + 1], 'as') && isId(tokens[j + 2])) j += 3;
      if (j > 0 && isId(tokens[j], 'from') && isStr(tokens[j + 1])) {
        out.push({ specifier: tokens[j + 1].v, line: tok.line, typeOnly, kind: 'import' });
      }
      continue;
    }

    // export ... from '...'
    let typeOnly = false;
    if (isId(tokens[j], 'type') && (isP(tokens[j + 1], '{') || isP(tokens[j + 1], '*'))) {
      typeOnly = true;
      j++;
    }
    if (isP(tokens[j], '*')) {
      j++;
      if (isId(tokens[j], 'as') && isId(tokens[j + 1])) j += 2;
    } else if (isP(tokens[j], '{')) {
      j = skipBraces(tokens, j);
    } else continue;
    if (j > 0 && isId(tokens[j], 'from') && isStr(tokens[j + 1])) {
      out.push({ specifier: tokens[j + 1].v, line: tok.line, typeOnly, kind: 'export' });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Graph construction. Files are named by their path relative to the source root, with '/'.

/** Relative specifiers only; `node:` and bare package names are not part of the graph. */
export function isRelative(specifier) {
  return specifier.startsWith('./') || specifier.startsWith('../') || specifier === '.' || specifier === '..';
}

/**
 * Resolves a relative specifier from `from` (a root-relative file) against the set of known
 * files: `./x.js` -> `x.ts`, `./x` -> `x.ts`, `./dir` -> `dir/index.ts`. null = no such file.
 */
export function resolveSpecifier(from, specifier, files) {
  const base = posix.normalize(posix.join(posix.dirname(from), specifier));
  const candidates = [];
  const m = /\.(m|c)?js$/.exec(base);
  if (m) {
    const stem = base.slice(0, -m[0].length);
    const ts = `.${m[1] ?? ''}ts`;
    candidates.push(stem + ts, `${stem}.tsx`, `${stem}.d${ts}`, base);
  } else if (/\.(m|c)?tsx?$/.test(base)) candidates.push(base);
  else candidates.push(`${base}.ts`, `${base}.tsx`, `${base}.d.ts`);
  candidates.push(`${base}/index.ts`, `${base}/index.tsx`, `${base}/index.d.ts`);
  for (const c of candidates) if (files.has(c)) return c;
  return null;
}

/**
 * Builds the graph from in-memory sources: `{ 'a.ts': 'source text', ... }` (or a Map).
 * Returns { files: string[], edges: Map<file, Edge[]>, external: Map<file, Import[]>, unresolved: Import[] }
 * where Edge = { from, to, specifier, line, typeOnly, kind }.
 */
export function buildGraph(sources) {
  const entries = sources instanceof Map ? [...sources] : Object.entries(sources);
  const files = new Set(entries.map(([f]) => f));
  const edges = new Map();
  const external = new Map();
  const unresolved = [];
  for (const [file, text] of entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const list = [];
    const ext = [];
    let imports;
    try {
      imports = parseImports(text);
    } catch (err) {
      throw new Error(`${file}: cannot scan: ${err.message}`);
    }
    for (const imp of imports) {
      if (!isRelative(imp.specifier)) {
        ext.push({ from: file, ...imp });
        continue;
      }
      const to = resolveSpecifier(file, imp.specifier, files);
      if (to === null) unresolved.push({ from: file, ...imp });
      else list.push({ from: file, to, ...imp });
    }
    edges.set(file, list);
    external.set(file, ext);
  }
  return { files: [...edges.keys()], edges, external, unresolved };
}

/** Lists every *.ts file under `dir` (recursively), relative to it, with '/'. */
export function listSourceFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (/\.(m|c)?tsx?$/.test(entry.name)) out.push(relative(dir, full).split(sep).join('/'));
    }
  };
  if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
  walk(dir);
  return out.sort();
}

/** Reads the import graph of every TypeScript file under `srcDir`. */
export function readSourceGraph(srcDir) {
  const sources = new Map();
  for (const f of listSourceFiles(srcDir)) sources.set(f, readFileSync(join(srcDir, f), 'utf8'));
  return buildGraph(sources);
}

// ---------------------------------------------------------------------------------------
// Cycles.

/** Strongly connected components (Tarjan), each sorted, in a stable order. */
export function stronglyConnected(graph) {
  const index = new Map();
  const low = new Map();
  const onStack = new Set();
  const stack = [];
  const comps = [];
  let counter = 0;
  const succ = (f) => [...new Set((graph.edges.get(f) ?? []).map((e) => e.to))].sort();
  // Iterative Tarjan so a long chain cannot overflow the call stack.
  for (const root of [...graph.files].sort()) {
    if (index.has(root)) continue;
    const work = [{ v: root, next: succ(root), i: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length) {
      const frame = work[work.length - 1];
      if (frame.i < frame.next.length) {
        const w = frame.next[frame.i++];
        if (!index.has(w)) {
          index.set(w, counter);
          low.set(w, counter++);
          stack.push(w);
          onStack.add(w);
          work.push({ v: w, next: succ(w), i: 0 });
        } else if (onStack.has(w)) low.set(frame.v, Math.min(low.get(frame.v), index.get(w)));
        continue;
      }
      work.pop();
      if (work.length) {
        const parent = work[work.length - 1].v;
        low.set(parent, Math.min(low.get(parent), low.get(frame.v)));
      }
      if (low.get(frame.v) === index.get(frame.v)) {
        const comp = [];
        let w;
        do {
          w = stack.pop();
          onStack.delete(w);
          comp.push(w);
        } while (w !== frame.v);
        comps.push(comp.sort());
      }
    }
  }
  return comps.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/** Shortest path from `start` to `goal` staying inside `allowed` (BFS), as a file list, or null. */
function shortestPath(graph, start, goal, allowed) {
  const prev = new Map([[start, null]]);
  const queue = [start];
  while (queue.length) {
    const v = queue.shift();
    if (v === goal) {
      const path = [];
      for (let x = v; x !== null; x = prev.get(x)) path.push(x);
      return path.reverse();
    }
    for (const w of [...new Set((graph.edges.get(v) ?? []).map((e) => e.to))].sort()) {
      if (allowed.has(w) && !prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return null;
}

/**
 * Import cycles, each as a closed file chain [a, b, c, a]. Listing every elementary cycle can
 * be exponential, so this lists, for every import edge that lies on a cycle, the shortest
 * cycle through that edge (deduplicated): each edge to cut appears in at least one listed
 * cycle. A file importing itself is the cycle [a, a].
 */
export function findCycles(graph) {
  const cycles = [];
  const seen = new Set();
  for (const comp of stronglyConnected(graph)) {
    const members = new Set(comp);
    for (const from of comp) {
      for (const to of [...new Set((graph.edges.get(from) ?? []).map((e) => e.to))].sort()) {
        if (!members.has(to)) continue;
        if (comp.length === 1 && to !== from) continue;
        const back = to === from ? [from] : shortestPath(graph, to, from, members);
        if (!back) continue;
        const cycle = to === from ? [from, from] : [from, ...back];
        // canonical rotation: start at the smallest file
        const body = cycle.slice(0, -1);
        let best = 0;
        for (let k = 1; k < body.length; k++) if (body[k] < body[best]) best = k;
        const rotated = [...body.slice(best), ...body.slice(0, best)];
        const key = rotated.join('\0');
        if (seen.has(key)) continue;
        seen.add(key);
        cycles.push([...rotated, rotated[0]]);
      }
    }
  }
  return cycles.sort((a, b) => a.length - b.length || (a.join() < b.join() ? -1 : 1));
}

export function formatCycle(cycle, prefix = '') {
  return cycle.map((f) => prefix + f).join(' -> ');
}

// ---------------------------------------------------------------------------------------
// Layers.

/**
 * The layer table of src/. A file may import from its own unit or from a unit of strictly
 * lower rank (so units of the same rank may not import each other), minus `bans`.
 */
export const LAYERS = Object.freeze({
  units: Object.freeze({
    'protocol/': 0,
    'logger.ts': 0,
    'net/': 1,
    'websocket/': 2,
    'tcp/': 2,
    'wire/': 3,
    'contracts/': 4,
    'adapter/': 5,
    'server/': 6,
    'client/': 6,
    'index.ts': 7,
  }),
  /** unit -> units it may not import even though they rank lower. */
  bans: Object.freeze({
    'client/': Object.freeze(['adapter/', 'contracts/', 'wire/']),
  }),
  /** Units that must not import any Node built-in module (they go into the browser bundle). */
  browserSafe: Object.freeze(['protocol/']),
});

/** The top-level unit of a root-relative file: 'dir/' for a folder, the file name for a top-level file. */
export function unitOf(file) {
  const slash = file.indexOf('/');
  return slash < 0 ? file : file.slice(0, slash + 1);
}

/**
 * Layer violations, as { kind, from, to?, specifier?, line?, message }:
 * - 'unknown-unit': a file whose top-level unit is not in the table;
 * - 'upward': an import of a unit of the same or a higher rank;
 * - 'banned': an import the table bans explicitly;
 * - 'node-builtin': a browser-safe unit importing a Node built-in module;
 * - 'unresolved': a relative import that names no file (the graph would be incomplete).
 */
export function checkLayers(graph, layers = LAYERS, prefix = '') {
  const violations = [];
  const rank = (u) => layers.units[u];
  const unknown = new Map();
  for (const file of graph.files) {
    const u = unitOf(file);
    if (rank(u) === undefined) {
      if (!unknown.has(u)) unknown.set(u, []);
      unknown.get(u).push(file);
    }
  }
  for (const [u, files] of [...unknown].sort()) {
    violations.push({
      kind: 'unknown-unit',
      from: u,
      message: `unknown unit: ${prefix}${u} (${files.map((f) => prefix + f).join(', ')}): add it to the layer table`,
    });
  }
  for (const file of graph.files) {
    const from = unitOf(file);
    const fromRank = rank(from);
    if (fromRank === undefined) continue;
    for (const e of graph.edges.get(file) ?? []) {
      const to = unitOf(e.to);
      if (to === from) continue;
      const toRank = rank(to);
      if (toRank === undefined) continue; // reported as unknown-unit
      const where = `${prefix}${file}:${e.line} imports${e.typeOnly ? ' (type-only)' : ''} ${prefix}${e.to}`;
      if (toRank >= fromRank) {
        const why =
          toRank === fromRank
            ? `same rank ${toRank}: ${from} and ${to} may not import each other`
            : `${to} has rank ${toRank}, higher than ${from} (rank ${fromRank})`;
        violations.push({ kind: 'upward', from: file, to: e.to, specifier: e.specifier, line: e.line, message: `${where}: ${why}` });
      } else if ((layers.bans[from] ?? []).includes(to)) {
        violations.push({ kind: 'banned', from: file, to: e.to, specifier: e.specifier, line: e.line, message: `${where}: ${from} may not import ${to}` });
      }
    }
  }
  for (const file of graph.files) {
    const from = unitOf(file);
    if (!(layers.browserSafe ?? []).includes(from)) continue;
    for (const imp of graph.external.get(file) ?? []) {
      if (imp.specifier.startsWith('node:') || isBuiltin(imp.specifier)) {
        violations.push({
          kind: 'node-builtin',
          from: file,
          specifier: imp.specifier,
          line: imp.line,
          message: `${prefix}${file}:${imp.line} imports ${imp.specifier}: ${from} is browser-safe and may not import Node built-ins`,
        });
      }
    }
  }
  for (const imp of graph.unresolved) {
    violations.push({
      kind: 'unresolved',
      from: imp.from,
      specifier: imp.specifier,
      line: imp.line,
      message: `${prefix}${imp.from}:${imp.line} imports '${imp.specifier}', which names no file under the source root`,
    });
  }
  return violations;
}
