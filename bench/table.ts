/**
 * Prints hyperfine's JSON export as a Markdown table of medians, each
 * relative to the first command (the floor, or the one compared against).
 *
 *   deno run --allow-read bench/table.ts results.json
 */

interface Result {
  command: string;
  median: number;
  min: number;
  max: number;
  times: number[];
}

const { results } = JSON.parse(await Deno.readTextFile(Deno.args[0])) as { results: Result[] };
const ms = (s: number) => (s * 1000).toFixed(1);
const floor = results[0].median;
console.log("| command | median ms | min ms | max ms | runs | x first row |");
console.log("|:---|---:|---:|---:|---:|---:|");
for (const r of results) {
  const ratio = (r.median / floor).toFixed(2);
  console.log(
    `| ${r.command} | ${ms(r.median)} | ${ms(r.min)} | ${ms(r.max)} | ${r.times.length} | ${ratio} |`,
  );
}
