import {
  DuplicateNodeError,
  GraphCycleError,
  GraphLockedError,
  InvalidArgumentError,
  InvalidEdgeError,
  UnknownNodeError,
} from './errors';
import { BackgroundCrewNode, CrewNode } from './node';

/**
 * The shape of a session's graph: nodes in the order they were added, edges in
 * the order they were added. Validation and topological order live here; the
 * session turns the result into Subjects.
 */
export class Graph {
  private readonly nodeList: CrewNode[] = [];
  private readonly byName = new Map<string, CrewNode>();
  private readonly childMap = new Map<CrewNode, CrewNode[]>();
  private readonly parentMap = new Map<CrewNode, CrewNode[]>();
  private isLocked = false;

  get nodes(): readonly CrewNode[] {
    return this.nodeList;
  }

  children(node: CrewNode): readonly CrewNode[] {
    return this.childMap.get(node) ?? [];
  }

  parents(node: CrewNode): readonly CrewNode[] {
    return this.parentMap.get(node) ?? [];
  }

  /** Whether `start()` locked the graph: nodes and edges can no longer be added. */
  get locked(): boolean {
    return this.isLocked;
  }

  lock(): void {
    this.isLocked = true;
  }

  addNode(node: CrewNode): void {
    if (this.isLocked) throw new GraphLockedError('addNode');
    if (!(node instanceof CrewNode)) {
      throw new InvalidArgumentError('addNode: expected a CrewNode instance (a class extending CrewNode, or node(name, operator))');
    }
    if (this.childMap.has(node)) throw new DuplicateNodeError(node.name, true);
    if (this.byName.has(node.name)) throw new DuplicateNodeError(node.name, false);
    this.nodeList.push(node);
    this.byName.set(node.name, node);
    this.childMap.set(node, []);
    this.parentMap.set(node, []);
  }

  addEdge(parent: CrewNode, child: CrewNode): void {
    if (this.isLocked) throw new GraphLockedError('addEdge');
    const children = this.childMap.get(parent);
    if (children === undefined) throw new UnknownNodeError(nameOf(parent), 'parent');
    if (!this.childMap.has(child)) throw new UnknownNodeError(nameOf(child), 'child');
    if (parent instanceof BackgroundCrewNode) {
      throw new InvalidEdgeError(
        `addEdge: "${parent.name}" is a BackgroundCrewNode and emits nothing downstream, so "${child.name}" would receive nothing; make it a CrewNode`,
      );
    }
    if (children.includes(child)) {
      throw new InvalidEdgeError(`addEdge: the edge ${parent.name} → ${child.name} already exists`);
    }
    children.push(child);
    this.parentMap.get(child)!.push(parent);
  }

  /**
   * Checks the graph is acyclic and returns its nodes in topological order
   * (stable: ties follow the order nodes were added). Throws `GraphCycleError`.
   */
  validate(): CrewNode[] {
    const cycle = this.findCycle();
    if (cycle) throw new GraphCycleError(cycle);
    const indegree = new Map<CrewNode, number>();
    for (const n of this.nodeList) indegree.set(n, this.parents(n).length);
    const order: CrewNode[] = [];
    const ready = this.nodeList.filter((n) => indegree.get(n) === 0);
    while (ready.length > 0) {
      const n = ready.shift()!;
      order.push(n);
      for (const c of this.children(n)) {
        const left = indegree.get(c)! - 1;
        indegree.set(c, left);
        if (left === 0) ready.push(c);
      }
    }
    return order;
  }

  /** The first cycle found by depth-first search, as names with the first repeated last. */
  private findCycle(): string[] | undefined {
    const state = new Map<CrewNode, 'open' | 'done'>();
    const path: CrewNode[] = [];
    const visit = (n: CrewNode): string[] | undefined => {
      state.set(n, 'open');
      path.push(n);
      for (const c of this.children(n)) {
        const s = state.get(c);
        if (s === 'open') return [...path.slice(path.indexOf(c)), c].map((x) => x.name);
        if (s === undefined) {
          const found = visit(c);
          if (found) return found;
        }
      }
      path.pop();
      state.set(n, 'done');
      return undefined;
    };
    for (const n of this.nodeList) {
      if (state.has(n)) continue;
      const found = visit(n);
      if (found) return found;
    }
    return undefined;
  }
}

function nameOf(value: unknown): string {
  if (value instanceof CrewNode) return value.name;
  return value === null || value === undefined ? String(value) : `(not a node: ${typeof value})`;
}
