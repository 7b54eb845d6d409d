// What a character's place in a number allows: the browser's twin of digitpad/grammar.py (step 8's
// last word on each character of the path numbers.js chose). Constants from numbers-params.json (P.grammar).
//
//   const ranked = rankingsOf(path.map((c) => c.scores));   // per character: [[class, score], ...], best first

import { P } from "./numparams.js";

/** grammar.rankings: each character's classes (a Map of scores per character), best first where its place allows them. */
export function rankingsOf(scores) {
  const G = P.grammar;
  const rankings = parenClose(scores.map((s) => [...s].sort((a, b) => b[1] - a[1])));
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
  return percentEnd(slashPlace(dateSlash(parenOpen(rankings))));
}

/** grammar.date_slash: a digit where a date's other '/' goes is that '/' when the model gives it DATE_SLASH of its say. */
export function dateSlash(rankings) {
  const G = P.grammar;
  const top = rankings.map((ranked) => ranked[0][0]).join("");
  if (top.split("/").length !== 2) return rankings;
  const dates = new RegExp(`^(?:${G.DATES})$`);
  const places = [...top].flatMap((c, k) =>
    (P.charset.DIGITS.includes(c) && dates.test(top.slice(0, k) + "/" + top.slice(k + 1)) ? [k] : []));
  return likeliest(rankings, places, "/", G.DATE_SLASH);
}

/** grammar.slash_place: outside a slash's shapes (SLASH_NUMBERS), a '/' the model gives '1' SLASH_ONE of its say is the 1. */
export function slashPlace(rankings) {
  const G = P.grammar;
  const top = rankings.map((ranked) => ranked[0][0]).join("");
  if (!top.includes("/") || new RegExp(`^(?:${G.SLASH_NUMBERS})$`).test(top)) return rankings;
  rankings.forEach((ranked, k) => {
    if (top[k] === "/" && share(ranked, "1") >= G.SLASH_ONE) rankings[k] = first(ranked, "1");
  });
  return rankings;
}

/** grammar.paren_close: where a '(' is read and no ')' after it, the character after the next most like a ')', at least PAREN_CLOSE of its say, is the ')'. */
export function parenClose(rankings) {
  const top = rankings.map((ranked) => ranked[0][0]), opened = top.indexOf("(");
  if (opened < 0 || top.slice(opened).includes(")")) return rankings;
  const places = rankings.flatMap((_, k) => (k >= opened + 2 ? [k] : []));
  return likeliest(rankings, places, ")", P.grammar.PAREN_CLOSE);
}

/** grammar.paren_open: where a ')' is read and no '(' before it, the character before it most like a '(', at least PAREN_OPEN of its say, is the '('. */
export function parenOpen(rankings) {
  const top = rankings.map((ranked) => ranked[0][0]), close = top.indexOf(")");
  if (close < 0 || top.slice(0, close).includes("(")) return rankings;
  return likeliest(rankings, [...Array(close).keys()], "(", P.grammar.PAREN_OPEN);
}

/** grammar.percent_end: a last digit after a digit is the '%' when the model gives it PERCENT_END of its say. */
export function percentEnd(rankings) {
  const G = P.grammar, n = rankings.length;
  if (n < 2 || !P.charset.DIGITS.includes(rankings[n - 1][0][0]) || !P.charset.DIGITS.includes(rankings[n - 2][0][0])) return rankings;
  if (share(rankings[n - 1], "%") >= G.PERCENT_END) rankings[n - 1] = first(rankings[n - 1], "%");
  return rankings;
}

/** grammar._likeliest: the rankings with ch first at the one of places whose scores give ch the largest share, at least least (of equal shares, the last). */
function likeliest(rankings, places, ch, least) {
  let best = null, most = least;
  for (const k of places) {
    const q = share(rankings[k], ch);
    if (q >= most) {
      best = k;
      most = q;
    }
  }
  if (best !== null) rankings[best] = first(rankings[best], ch);
  return rankings;
}

/** grammar._share: ch's share of one character's scores, as its answer shows it. */
function share(ranked, ch) {
  const hit = ranked.find(([c]) => c === ch);
  return (hit ? hit[1] : 0.0) / Math.max(1.0, ranked.reduce((s, [, q]) => s + q, 0));
}

/** grammar._first: the ranking with ch first, the rest in their order. */
function first(ranked, ch) {
  return [...ranked.filter(([c]) => c === ch), ...ranked.filter(([c]) => c !== ch)];
}
