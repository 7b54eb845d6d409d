// What a character's place in a number allows: the browser's twin of digitpad/grammar.py (step 8's
// last word on each character of the path numbers.js chose). Constants from numbers-params.json (P.grammar).
//
//   const ranked = rankingsOf(path.map((c) => c.scores));   // per character: [[class, score], ...], best first

import { P } from "./numparams.js";

/** grammar.rankings: each character's classes (a Map of scores per character), best first where its place allows them. */
export function rankingsOf(scores) {
  const G = P.grammar;
  const rankings = scores.map((s) => [...s].sort((a, b) => b[1] - a[1]));
  const closes = rankings.flatMap((ranked, k) => (ranked[0][0] === ")" ? [k] : []));   // where the best reading is ')'
  rankings.forEach((ranked, k) => {
    let banned = (k === 0 ? G.NOT_FIRST : "") + (k === rankings.length - 1 ? G.NOT_LAST : "");
    if (!closes.some((j) => j > k)) banned += "(";   // a '(' opens what a ')' after it closes
    if (banned.includes(ranked[0][0]) && ranked.some(([ch]) => !banned.includes(ch))) {
      // no number starts with '/' or ')', nor ends with '/', nor has a '(' that nothing closes:
      // the best other character (a leaning or curved 1)
      rankings[k] = [...ranked.filter(([ch]) => !banned.includes(ch)), ...ranked.filter(([ch]) => banned.includes(ch))];
    }
  });
  return percentEnd(dateSlash(rankings));
}

/** grammar.date_slash: a digit where a date's other '/' goes is that '/' when the model gives it DATE_SLASH of its say. */
export function dateSlash(rankings) {
  const G = P.grammar;
  const top = rankings.map((ranked) => ranked[0][0]).join("");
  if (top.split("/").length !== 2) return rankings;
  const dates = new RegExp(`^(?:${G.DATES})$`);
  let best = null, share = G.DATE_SLASH;
  rankings.forEach((ranked, k) => {
    const total = ranked.reduce((s, [, q]) => s + q, 0);
    const slash = ranked.find(([ch]) => ch === "/");
    const q = (slash ? slash[1] : 0.0) / Math.max(1.0, total);
    if (P.charset.DIGITS.includes(top[k]) && q >= share && dates.test(top.slice(0, k) + "/" + top.slice(k + 1))) {
      best = k;
      share = q;
    }
  });
  if (best !== null) {   // '/' first, the rest in order
    rankings[best] = [...rankings[best].filter(([ch]) => ch === "/"), ...rankings[best].filter(([ch]) => ch !== "/")];
  }
  return rankings;
}

/** grammar.percent_end: a last digit after a digit is the '%' when the model gives it PERCENT_END of its say. */
export function percentEnd(rankings) {
  const G = P.grammar, n = rankings.length;
  if (n < 2 || !P.charset.DIGITS.includes(rankings[n - 1][0][0]) || !P.charset.DIGITS.includes(rankings[n - 2][0][0])) return rankings;
  const last = rankings[n - 1];
  const total = last.reduce((s, [, q]) => s + q, 0);
  const pct = last.find(([ch]) => ch === "%");
  if ((pct ? pct[1] : 0.0) / Math.max(1.0, total) >= G.PERCENT_END) {   // '%' first, the rest in order
    rankings[n - 1] = [...last.filter(([ch]) => ch === "%"), ...last.filter(([ch]) => ch !== "%")];
  }
  return rankings;
}
