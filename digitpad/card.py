"""The model card: markdown generated from a model's metadata, never typed by hand (no torch).

    model_card(meta, history=rows, quantized=int8_meta)  # -> the text of MODEL_CARD.md
    with_int8_row(card_text, int8_meta)                   # a shipped card, its int8 row replaced

One card for every kind of model file: a training run (with its training curve), an ensemble
(its members), a fine-tune (its before/after table, from ``meta["finetune"]``), each with the
row of its int8 serving twin (``digitpad.quantize``).
"""

from __future__ import annotations

import json
import re


def model_card(meta: dict, *, history: list[dict] | None = None,
               histories: dict[str, list[dict]] | None = None, quantized: dict | None = None) -> str:
    """The card of the float model ``meta``; ``quantized``: the metadata of its int8 twin."""
    m, arch = meta["metrics"], meta["architecture"]
    members = m.get("members")
    what = (f"An ensemble of {len(arch['members'])} CNNs (digitnet, channels {arch['channels']}) whose "
            "log-probabilities are averaged" if members else f"A CNN ({arch['name']}, channels {arch['channels']})")
    labels = meta.get("labels") or [str(i) for i in range(10)]
    reads = ("one handwritten character from a 28x28 MNIST-style image: a digit, one of the symbols "
             f"written inside numbers ({' '.join(labels[10:-1])}), or `{labels[-1]}` (not a character of a number)"
             if len(labels) > 10 else "one handwritten digit from a 28x28 MNIST-style image")
    lines = [
        f"# digitpad model card: `{meta['version']}`",
        "",
        f"{what}: {meta['parameters']:,} parameters in all. It reads {reads}.",
        "",
        f"**Trained on:** {meta['data'].get('trained_on') or _trained_on(meta['data'])}.",
        "",
        "| | |",
        "|---|---|",
        f"| MNIST test accuracy (evaluated once, at the end) | **{m['test_accuracy']:.2%}** |",
        f"| validation accuracy ({meta['data']['val_images']:,} images: {_val_sets(meta['data'])}) | {m['val_accuracy']:.2%} |",
        f"| training data | {_trained_on(meta['data'])} |",
    ]
    if not members:
        lines.append(f"| checkpoint | epoch {m['best_epoch']} of {m['epochs']}, {m['weights']} weights, chosen on validation |")
    lines += [
        f"| training time | {m['train_seconds'] / 60:.1f} min on {meta['machine']['processor']} "
        f"({meta['machine']['cpus']} threads, torch {meta['machine']['torch']}) |",
        f"| created | {meta['created']} |",
    ]
    if "parity" in meta:
        p = meta["parity"]
        lines.append(f"| ONNX parity | max logit diff {p['max_abs_logit_diff']:.1e} on {p['images']} test images |")
    if quantized:
        lines.append(int8_row(quantized))
    lines += _calibration_rows(meta)
    if members:
        lines += ["", "## Members", "", "| member | validation | test | checkpoint | training |", "|---|---|---|---|---|"]
        lines += [f"| `{x['version']}` | {x['val_accuracy']:.2%} | {_pct(x['test_accuracy'])} | epoch {x['best_epoch']} "
                  f"of {x['epochs']} ({x['weights']}) | {x['train_seconds'] / 60:.1f} min |" for x in members]
    labels = meta["labels"][: len(m["test_per_class_accuracy"])]  # MNIST test: the ten digits
    lines += ["", "## Per-class test accuracy", "", "| class | " + " | ".join(labels) + " |",
              "|---" * (len(labels) + 1) + "|",
              "| accuracy | " + " | ".join(_pct(a) for a in m["test_per_class_accuracy"]) + " |", ""]
    lines += heldout_section(meta, quantized)
    lines += ["## Recipe", "", "```json", json.dumps(meta["recipe"], indent=2), "```", ""]
    norm = meta["normalization"]
    lines += ["## Input", "", f"{meta['input']['content']}; normalised as "
              f"`{norm['formula']}` with mean {norm['mean']} and std {norm['std']}.", ""]
    curves = ([("", history)] if history else []) + list((histories or {}).items())
    for name, rows in curves:
        lines += [f"## Training curve{' of ' + name if name else ''}", "",
                  "| epoch | train loss | val acc | val acc (EMA) | s |", "|---|---|---|---|---|"]
        lines += [f"| {h['epoch']} | {h['train_loss']:.4f} | {h['val_acc']:.2%} | {_pct(h.get('val_acc_ema'))} | "
                  f"{h['epoch_seconds']:.0f} |" for h in rows]
        lines.append("")
    if "finetune" in meta:
        lines += _finetune_section(meta)
    return "\n".join(lines)


def int8_row(meta: dict) -> str:
    """The card's table row for an int8 model (``meta``: its metadata)."""
    q = meta["quantization"]
    return (f"| int8 serving model (`{meta['version']}`) | test {meta['metrics']['test_accuracy']:.2%}, "
            f"same digit as the float model on {q['argmax_agreement']:.2%} of {q['test_images']:,} test images "
            f"(max probability difference {q['max_abs_probability_diff']:.3f}); {q['scheme']}, calibrated on "
            f"{q['calibration']['images']} {q['calibration']['source']} |")


def with_int8_row(card: str, meta: dict) -> str:
    """``card`` with its int8 row replaced by the row of ``meta`` (or, in an older card without
    one, added at the end of the first table)."""
    row = int8_row(meta)
    if re.search(r"^\| int8 serving model .*$", card, flags=re.M):
        return re.sub(r"^\| int8 serving model .*$", lambda _: row, card, count=1, flags=re.M)
    head, sep, rest = card.partition("\n\n## ")
    return head + "\n" + row + sep + rest


def with_heldout(card: str, meta: dict, quantized: dict) -> str:
    """``card`` with its held-out section made again from the float ``meta`` and its int8 twin."""
    section = "\n".join(heldout_section(meta, quantized))
    head, sep, rest = card.partition("## Held-out writers\n")
    if not sep or not section:
        return card
    _, nxt, tail = rest.partition("\n## ")
    return head + section + ("\n## " + tail if nxt else "")


def _val_sets(d: dict) -> str:
    if "handwriting" in d:
        return (f"{d['mnist_val_images']:,} carved from MNIST's training set + {d['handwriting']['val']['images']:,} "
                "of the handwriting corpus's validation writers")
    return "carved from the training set"


def _calibration_rows(meta: dict) -> list[str]:
    """Temperature and thresholds: what makes the confidence honest and the statuses."""
    rows = []
    c = meta.get("calibration")
    if c:
        b, a = c["before"], c["after"]
        rows.append(f"| calibration | temperature **{c['temperature']:.3f}** baked into the last layer, fit on "
                    f"{c['fit_on']}: expected calibration error {b['ece']:.2%} -> **{a['ece']:.2%}**, "
                    f"NLL {b['nll']:.4f} -> {a['nll']:.4f} |")
    if meta.get("thresholds"):
        rows.append(thresholds_row(meta["thresholds"]))
    return rows


def thresholds_row(t: dict) -> str:
    """The card's table row for a model's ``thresholds`` entry."""
    budgets = f", budgets {t['budgets']}" if t.get("budgets") else ""
    return (f"| thresholds (chosen on {t.get('chosen_on', 'validation')}{budgets}) | not_digit below digit likelihood "
            f"**{t['not_digit']}**, uncertain below confidence **{t['uncertain']}** or digit likelihood "
            f"**{t['doubtful_digit']}**. Rule: {t.get('rule', '')} |")


def heldout_section(meta: dict, quantized: dict | None) -> list[str]:
    """Figures on the handwriting corpus's test writers (measured once, at the end)."""
    rows = [(meta["version"], meta["metrics"].get("heldout"))]
    if quantized and quantized.get("metrics", {}).get("heldout"):
        rows.append((quantized["version"], quantized["metrics"]["heldout"]))
    rows = [(v, h) for v, h in rows if h]
    if not rows:
        return []
    out = ["## Held-out writers", "",
           "Writers of the handwriting corpus's test split: never trained on, never chosen on "
           "(`bench/handwriting_accuracy.py` has every table).", "",
           "| model | UNIPEN digits | per lab | pendigits digits | pen digits flagged (not_digit) | errors flagged "
           "| ECE | non-digits flagged (not_digit) | AUROC |", "|---|---|---|---|---|---|---|---|---|"]
    for version, h in rows:
        u, p, a = h.get("unipen", {}), h.get("pendigits", {}), h.get("all pen", {})
        nd = h.get("not_digits", {}).get("all non-digits", {})
        labs = ", ".join(f"{k} {v:.1%}" for k, v in u.get("per_lab", {}).items())
        out.append(f"| `{version}` | {_pct(u.get('accuracy'))} ({u.get('n', 0):,}) | {labs} | {_pct(p.get('accuracy'))} "
                   f"({p.get('n', 0):,}) | {_pct(a.get('flagged'))} ({_pct(a.get('not_digit'))}) | "
                   f"{_pct(a.get('errors_flagged'))} | {_pct(a.get('ece'))} | {_pct(nd.get('flagged'))} "
                   f"({_pct(nd.get('not_digit'))}) | {nd.get('auroc') or '-'} |")
    return out + [""]


def _trained_on(d: dict) -> str:
    text = f"{d.get('mnist_train_images', d.get('train_images', 0) - d.get('extra_images', 0)):,} MNIST training images"
    if d.get("handwriting"):
        hw = d["handwriting"]
        crops = hw.get("reader_crops")
        reader = (f" + {crops['images']:,} candidate characters the number reader cut from {crops['numbers']:,} numbers "
                  f"composed of those writers' characters ({crops['other']:,} halves and merges, as `other`)"
                  if crops else "")
        return text + (f" + {hw['train']['images']:,} handwriting corpus images (train writers; "
                       f"{hw['train']['hand_style_variants']:,} hand-style variants){reader}, mixed per epoch as "
                       + ", ".join(f"{k} {v:,}" for k, v in d.get("epoch", {}).items()))
    if d.get("extra"):
        x = d["extra"]
        return text + (f" + {x['images']:,} pen-drawn digits ({x['drawings']:,} drawings by the "
                       f"{len(x['writers'])} dev writers of {x['source']}, in {len(x['styles'])} canvas styles; "
                       f"its {len(x['held_out_writers'])} held-out writers unseen)")
    if d.get("extra_images"):
        return text + f" + {d['extra_images']:,} extra images"
    return text


def _finetune_section(meta: dict) -> list[str]:
    ft, m, parent = meta["finetune"], meta["metrics"], meta["parent"]
    fb, before = ft["feedback"], ft["before"]
    return [
        "## Fine-tuning", "",
        f"Fine-tuned from `{parent['version']}` (sha256 `{parent['sha256'][:16]}...`) on "
        f"{fb['train']} feedback images (each repeated {fb['repeat']}x per epoch) mixed with "
        f"{ft['mnist']['train_images']:,} MNIST training images; {fb['holdout']} feedback images held out.", "",
        "| | before | after |", "|---|---|---|",
        f"| held-out feedback ({fb['holdout']}) | {_pct(before['holdout_accuracy'])} | "
        f"{_pct(m['feedback_holdout_accuracy'])} |",
        f"| feedback trained on ({fb['train']}) | {_pct(before['train_feedback_accuracy'])} | "
        f"{_pct(m['feedback_train_accuracy'])} |",
        f"| MNIST test ({m['test_images']:,}) | {_pct(before['mnist_test_accuracy'])} | {_pct(m['test_accuracy'])} |", "",
    ]


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.2%}"


def sequence_card(meta: dict) -> str:
    """The card of a sequence model (``digitpad.seqtrain``): what it reads, from what, its recipe,
    its epochs' figures on val writers' strings and its export parity."""
    r, p = meta["recipe"], meta["parity"]
    lines = [
        f"# digitpad sequence model card: `{meta['version']}`",
        "",
        "A CRNN + CTC (`digitpad.sequence`): " + (f"{meta['parameters']:,} parameters. " if "parameters" in meta else "")
        + f"It reads a run of {'digits and separators' if r.get('separators') else 'digits'} "
        f"({meta['alphabet']}) whole from the number reader's view of the ink, "
        f"{meta['input']['height']} rows high, one output frame per {meta['input']['stride']} columns. The number "
        "reader asks it where digits touch (`numbers` step 10).",
        "",
        f"**Trained on:** {meta['trained_on']}.",
        "",
        "| | |",
        "|---|---|",
        "| recipe | " + ", ".join(f"{k} {v}" for k, v in r.items()) + " |",
        f"| ONNX parity | max log-probability difference {p['max_abs_logp_diff']:.1e} on {p['views']} views |",
    ]
    for key, name in (("training_time", "training time"), ("created", "created")):
        if key in meta:
            lines.append(f"| {name} | {meta[key]} |")
    strings = "digit strings" if not r.get("separators") else "strings (a share with separators, as in training)"
    lines += ["", "## Epochs", "", f"Val writers' {strings} (every layout) read exactly; printed, never chosen on.", "",
              "| epoch | CTC loss | val strings exact |", "|---|---|---|"]
    lines += [f"| {h['epoch']} | {h['loss']:.3f} | {_pct(h['val_exact'])} |" for h in meta["history"]]
    return "\n".join(lines) + "\n"
