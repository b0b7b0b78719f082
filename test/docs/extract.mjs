// Finds the runnable JavaScript examples in a Markdown file.
//
// An example is a fenced block opened with ```js or ```javascript. HTML comments on the
// lines right before the fence (blank lines between them are allowed) steer the test:
//   <!-- example: skip (why it cannot run on its own) -->
//   <!-- expect: one line of stdout -->          (or several lines, up to the closing -->)
//   <!-- example: timeout 20000 -->               (ms; default in examples.test.mjs)
// Blocks in other languages (bash, ts, json, text...) are never run.

const FENCE_OPEN = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)/;
const JS_LANGS = new Set(['js', 'javascript', 'mjs']);

/** Comments directly above line `index` (skipping blank lines), nearest last. */
function commentsAbove(lines, index) {
  const found = [];
  let i = index - 1;
  while (i >= 0) {
    const line = lines[i].trim();
    if (line === '') {
      i--;
      continue;
    }
    if (!line.endsWith('-->')) break;
    // Walk up to the line that opens this comment (it may span several lines).
    let start = i;
    while (start >= 0 && !lines[start].includes('<!--')) start--;
    if (start < 0) break;
    const text = lines.slice(start, i + 1).join('\n');
    const m = /<!--([\s\S]*?)-->/.exec(text);
    if (!m) break;
    found.unshift(m[1].trim());
    i = start - 1;
  }
  return found;
}

/**
 * @returns {{ line: number, lang: string, code: string, skip: string | null, expect: string[] | null, timeout: number | null }[]}
 *   `line` is the 1-based line of the opening fence.
 */
export function extractExamples(markdown) {
  const lines = markdown.split(/\r?\n/);
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE_OPEN.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang] = open;
    // Find the closing fence (same character, at least as long).
    let end = i + 1;
    const close = new RegExp(`^\\s*${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
    while (end < lines.length && !close.test(lines[end])) end++;
    const body = lines.slice(i + 1, end).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l));
    if (JS_LANGS.has(lang.toLowerCase())) {
      let skip = null;
      let expect = null;
      let timeout = null;
      for (const c of commentsAbove(lines, i)) {
        let m;
        if ((m = /^example:\s*skip\s*(?:\((.*)\))?\s*$/s.exec(c))) skip = (m[1] ?? '').trim() || 'no reason given';
        else if ((m = /^example:\s*timeout\s+(\d+)\s*$/.exec(c))) timeout = Number(m[1]);
        else if ((m = /^expect:([\s\S]*)$/.exec(c))) {
          expect = m[1]
            .split('\n')
            .map((l) => l.trim())
            .filter((l) => l !== '');
        }
      }
      out.push({ line: i + 1, lang, code: body.join('\n') + '\n', skip, expect, timeout });
    }
    i = end;
  }
  return out;
}
