/**
 * A foreground command's signals: what skiff passes on to the process it
 * runs in a container (`run`, `exec`, `start -a`), and how that process's
 * end becomes skiff's exit code.
 *
 * @module
 */

import { childrenOf, SIGNAL_NUMBERS } from "./proc.ts";

/** Signals a foreground skiff passes on to the container's process. */
export const FORWARDED: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];

/**
 * Passes signals sent to skiff on to the children of `waiter`: the
 * container's PID 1 for a keeper, the command for `exec`'s waiting shell.
 *
 * @returns a function that stops forwarding
 */
export function forwardSignals(waiter: number, terminal: boolean): () => void {
  return relaySignals(() => childrenOf(waiter), terminal);
}

/**
 * Passes the {@link FORWARDED} signals sent to skiff on to the processes
 * `targets` names at the time. SIGINT and SIGQUIT from a terminal already
 * reach them when they share skiff's foreground process group, so with a
 * terminal those two are not sent twice, and skiff ignores them.
 *
 * @returns a function that stops relaying
 */
export function relaySignals(targets: () => number[], terminal: boolean): () => void {
  const signals = FORWARDED.filter((s) => !(terminal && (s === "SIGINT" || s === "SIGQUIT")));
  const handlers = signals.map((signal) => {
    const handler = () => {
      for (const pid of targets()) {
        try {
          Deno.kill(pid, signal);
        } catch {
          // already gone
        }
      }
    };
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  // With a terminal, Ctrl-C must not kill skiff while the container lives.
  const ignored = terminal
    ? (["SIGINT", "SIGQUIT"] as const).map((signal) => {
      const handler = () => {};
      Deno.addSignalListener(signal, handler);
      return [signal, handler] as const;
    })
    : [];
  return () => {
    for (const [signal, handler] of [...handlers, ...ignored]) Deno.removeSignalListener(signal, handler);
  };
}

/** A process's end as a shell reports it: its exit code, or 128 + N when signal N killed it. */
export function exitCodeOf(status: Deno.CommandStatus): number {
  return status.signal ? 128 + (SIGNAL_NUMBERS[status.signal] ?? 0) : status.code;
}
