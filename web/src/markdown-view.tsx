// The parsed review as elements. Every string goes in as a text node: Preact escapes it; nothing
// here sets innerHTML.
import type { ComponentChildren } from 'preact';
import type { Block, Inline, ListItem } from './markdown.ts';

function InlineNodes({ nodes }: { nodes: Inline[] }): ComponentChildren {
  return nodes.map((node, i) => {
    if (node.type === 'code') return <code key={i}>{node.text}</code>;
    if (node.type === 'strong') return <strong key={i}><InlineNodes nodes={node.children} /></strong>;
    return node.text;
  });
}

function Items({ items }: { items: ListItem[] }) {
  return (
    <ul>
      {items.map((item, i) => (
        <li key={i}>
          <InlineNodes nodes={item.children} />
          {item.items.length > 0 && <Items items={item.items} />}
        </li>
      ))}
    </ul>
  );
}

function Blocks({ blocks }: { blocks: Block[] }): ComponentChildren {
  return blocks.map((block, i) => {
    switch (block.type) {
      case 'paragraph':
        return <p key={i}><InlineNodes nodes={block.children} /></p>;
      case 'heading':
        // The page has its own h1/h2: the review's headings sit below them.
        return <h4 key={i}><InlineNodes nodes={block.children} /></h4>;
      case 'list':
        return <Items key={i} items={block.items} />;
      case 'code':
        return <pre key={i}><code>{block.text}</code></pre>;
      case 'table':
        return (
          <div class="table-scroll" key={i}>
            <table>
              <thead>
                <tr>{block.head.map((cell, c) => <th scope="col" class={block.align[c] === 'right' ? 'num' : undefined} key={c}><InlineNodes nodes={cell} /></th>)}</tr>
              </thead>
              <tbody>
                {block.rows.map((row, r) => (
                  <tr key={r}>{row.map((cell, c) => <td class={block.align[c] === 'right' ? 'num' : undefined} key={c}><InlineNodes nodes={cell} /></td>)}</tr>
                ))}
              </tbody>
            </table>
          </div>
        );
      case 'details':
        return (
          <details key={i} open>
            <summary><InlineNodes nodes={block.summary} /></summary>
            <Blocks blocks={block.children} />
          </details>
        );
    }
  });
}

export function MarkdownView({ blocks }: { blocks: Block[] }) {
  return <div class="markdown"><Blocks blocks={blocks} /></div>;
}
