import { BackgroundCrewNode, CrewNode } from './node';

/** What a drawing needs of a graph: its nodes in order, and each node's children. */
export interface GraphShape {
  readonly nodes: readonly CrewNode[];
  children(node: CrewNode): readonly CrewNode[];
}

/**
 * A session's graph as a Mermaid flowchart: `root`, every node (by name, in the
 * order added; a background node dashed), every edge, and `sink`. The root feeds
 * the nodes without parents; a node without children that is not a background
 * node feeds the sink (what reaches the client). Node ids are `n1`, `n2`, … in
 * that order, so the text is stable for a given graph.
 *
 * @example
 * console.log(session.toMermaid());
 * // flowchart LR
 * //   root(("root"))
 * //   n1["agent"]
 * //   sink(("sink"))
 * //   root --> n1
 * //   n1 --> sink
 */
export function toMermaid(graph: GraphShape): string {
  const ids = new Map<CrewNode, string>();
  graph.nodes.forEach((n, i) => ids.set(n, `n${i + 1}`));
  const lines = ['flowchart LR', '  root(("root"))'];
  const background: string[] = [];
  for (const n of graph.nodes) {
    lines.push(`  ${ids.get(n)}["${label(n.name)}"]`);
    if (n instanceof BackgroundCrewNode) background.push(ids.get(n)!);
  }
  lines.push('  sink(("sink"))');
  const hasParent = new Set<CrewNode>();
  for (const n of graph.nodes) for (const c of graph.children(n)) hasParent.add(c);
  for (const n of graph.nodes) if (!hasParent.has(n)) lines.push(`  root --> ${ids.get(n)}`);
  for (const n of graph.nodes) {
    const children = graph.children(n);
    for (const c of children) lines.push(`  ${ids.get(n)} --> ${ids.get(c)}`);
    if (children.length === 0 && !(n instanceof BackgroundCrewNode)) lines.push(`  ${ids.get(n)} --> sink`);
  }
  if (background.length > 0) {
    lines.push('  classDef background stroke-dasharray: 5 5');
    lines.push(`  class ${background.join(',')} background`);
  }
  return `${lines.join('\n')}\n`;
}

/** A name as Mermaid shows it inside quotes: the characters that would end or break the label as entity codes. */
function label(name: string): string {
  return name.replace(/[#"<>&]/g, (c) => `#${c.charCodeAt(0)};`);
}
