// The console's reading of the plan route's markdown: the review's structure (sections, tables,
// lists, code, bold) becomes elements; everything else, tags and scripts included, stays text.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseMarkdown, plainText, type Block } from '../../web/src/markdown.ts';

const REVIEW = `❌ **fleetform diff** \`e6b34db\` → \`49328c4\`: HEAD is invalid (1 error): the engine would reject this revision

<details>
<summary>HEAD issues: 1 error, 0 warnings</summary>

- \`fleet-config/sites/broken.yaml:4:1\` **error** [yaml-syntax] a &lt;/details&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt; in a message

</details>

<details>
<summary>Firmware plans: 3 devices change</summary>

| rollout | path | steps | devices |
|---|---|---:|---:|
| tracker \\| app | \`mcu 2.0.0 → 2.1.0\` | 1 | 3 |

- added \`Rollout/x\`
  - \`spec.target\`: a → b

</details>
`;

function find<T extends Block['type']>(blocks: Block[], type: T): Extract<Block, { type: T }>[] {
  const found: Extract<Block, { type: T }>[] = [];
  for (const block of blocks) {
    if (block.type === type) found.push(block as Extract<Block, { type: T }>);
    if (block.type === 'details') found.push(...find(block.children, type));
  }
  return found;
}

describe('the plan markdown', () => {
  it('keeps the review sections, their summaries, tables and nested lists', () => {
    const blocks = parseMarkdown(REVIEW);
    const sections = find(blocks, 'details');
    expect(sections.map((s) => plainText([{ type: 'paragraph', children: s.summary }]).trim())).toEqual(['HEAD issues: 1 error, 0 warnings', 'Firmware plans: 3 devices change']);
    const [table] = find(blocks, 'table');
    expect(table?.align).toEqual([null, null, 'right', 'right']);
    expect(table?.rows[0]?.map((cell) => plainText([{ type: 'paragraph', children: cell }]).trim())).toEqual(['tracker | app', 'mcu 2.0.0 → 2.1.0', '1', '3']);
    const lists = find(blocks, 'list');
    expect(lists[1]?.items[0]?.items).toHaveLength(1);
    expect(blocks[0]?.type).toBe('paragraph');
    expect(blocks[0]?.type === 'paragraph' && blocks[0].children.slice(0, 4)).toMatchObject([{ type: 'text', text: '❌ ' }, { type: 'strong' }, { type: 'text', text: ' ' }, { type: 'code', text: 'e6b34db' }]);
  });

  it('turns escaped tags in a message into text, never into a section end or an element', () => {
    const blocks = parseMarkdown(REVIEW);
    // The </details> inside the issue message did not close the first section.
    const [first] = find(blocks, 'details');
    expect(plainText(first?.children ?? [])).toContain('a </details> & <script>alert(1)</script> in a message');
    expect(find(blocks, 'details')).toHaveLength(2);
  });

  it('leaves raw HTML as the text it is', () => {
    const hostile = '<img src=x onerror=alert(1)>\n\n<script>alert(2)</script>\n\n<details open onclick=alert(3)>\n\n<a href="javascript:alert(4)">x</a>';
    const blocks = parseMarkdown(hostile);
    expect(blocks.every((b) => b.type === 'paragraph')).toBe(true);
    expect(plainText(blocks)).toBe('<img src=x onerror=alert(1)>\n<script>alert(2)</script>\n<details open onclick=alert(3)>\n<a href="javascript:alert(4)">x</a>\n');
  });

  it('keeps code spans literal and decodes only character references', () => {
    const [paragraph] = parseMarkdown('`&lt;b&gt;` &lt;b&gt; &#60;i&#x3e; &bogus; &#0; \\*not bold\\*');
    expect(paragraph).toEqual({
      type: 'paragraph',
      children: [
        { type: 'code', text: '&lt;b&gt;' },
        { type: 'text', text: ' <b> <i> &bogus; &#0; ' },
        { type: 'text', text: '*' },
        { type: 'text', text: 'not bold' },
        { type: 'text', text: '*' },
      ],
    });
  });

  it('reads any text without throwing, and loses none of its letters', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        const blocks = parseMarkdown(text);
        const out = plainText(blocks);
        for (const letter of text.replace(/[^A-Za-z0-9]/g, '')) expect(out).toContain(letter);
      }),
      { numRuns: 300 },
    );
  });
});
