#!/usr/bin/python3
"""crossval - 5-fold cross-validation of the content filter on the TRAINING
groups of the SpamAssassin public corpus (easy-ham-1, hard-ham-1, spam-1),
and tuning of the rule scores.

usage: perf/filter/crossval.py [--write-scores] [--out perf/results/filter_cv.md]

Held-out groups (easy-ham-2, spam-2) are never opened: the script refuses to
run if a path outside the three training groups would be read.

1. Each message goes to fold md5(file name) mod 5.
2. One scan without Bayes (build/sluice-scan --scores, conf/rules without
   95_tuned.cf) gives every message's rule hits. Scores are linear in the
   hits, so fitted scores are evaluated without rescanning.
3. For each fold k: a fresh Bayes store learns the other four folds (spam and
   ham); fold k is scanned with it and its Bayes band (BAYES_xx) is kept.
   For fitting, nested stores give the training messages bands that are
   just as honest: for each pair k != j, a store learns the folds other
   than k and j and scans fold j (20 stores).
4. Two score sets are fitted for each fold k, on the other four folds only
   (docs/filter-rules.md, "Score sets"):
   - set 0, for a message Bayes has no opinion on: the rules fitted alone,
     by the same method as set 1 without the band features (set0_fit);
   - set 1, for a message Bayes has an opinion on: the rules and the Bayes
     bands fitted together (fit_joint: L2 logistic regression, ham
     weighted; the threshold placed by an inner cross-validation over the
     four folds, where at most 0.4 % of the out-of-fold hams reach it).
   Fold k is judged by set 1 with its own bands (the appliance with a
   trained Bayes) and by set 0 without Bayes (a fresh appliance). Nothing
   about fold k enters its scores or its Bayes.
5. --write-scores fits both sets once more on all three groups and writes
   conf/rules/95_tuned.cf: a two-value `score NAME set0 set1` line per rule
   that hit at least 3 training messages (other rules keep their
   hand-written score in both sets) and one line per Bayes band (bands
   fire only in set 1).

--cached reuses build/cv/cache.npz (the scans of steps 2-3), so a change of
the fitting alone takes about a minute instead of several.
"""
import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SCAN = os.path.join(ROOT, "build", "sluice-scan")
CORPUS = os.path.join(ROOT, "build", "corpus")
TRAIN = {"easy-ham-1": 0, "hard-ham-1": 0, "spam-1": 1}
HELD_OUT = ("easy-ham-2", "spam-2")
HAND_RULES = []  # --rules arguments: conf/rules without 95_tuned.cf
K = 5
THRESHOLD = 5.0
FP_TARGET = 0.002
HAM_WEIGHT = 3.0
L2 = 0.02
# The joint fit (rules and Bayes bands together, the shipped method).
JOINT_HAM_WEIGHT = 3.0
JOINT_L2 = 0.0002
JOINT_FP_TARGET = 0.004
JOINT_BAYES_CAP = 14.5  # under the default reject_score (15): Bayes alone never rejects
BANDS = ["BAYES_00", "BAYES_05", "BAYES_20", "BAYES_40", "BAYES_50", "BAYES_60",
         "BAYES_80", "BAYES_95", "BAYES_99", "BAYES_999"]


def files_of(group):
    assert group in TRAIN and group not in HELD_OUT
    d = os.path.join(CORPUS, group)
    if not os.path.isdir(d):
        sys.exit("crossval: %s missing: run make corpus" % d)
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".eml"))


def fold_of(path):
    return int(hashlib.md5(os.path.basename(path).encode()).hexdigest(), 16) % K


def scan(args, paths, prog="crossval"):
    """sluice-scan ARGS --scores scan PATHS: {path: (verdict, score, [(name, score)])}.
    PROG names the calling script in the error that ends it (setcheck.py
    uses this too)."""
    out = {}
    for i in range(0, len(paths), 2000):  # stay under ARG_MAX
        res = subprocess.run([SCAN] + args + ["--scores", "scan"] + paths[i:i + 2000],
                             cwd=ROOT, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            sys.exit("%s: sluice-scan failed: %s" % (prog, res.stderr.strip()))
        for line in res.stdout.splitlines():
            path, verdict, score, rules = line.split("\t")
            hits = []
            for item in rules.split(",") if rules else []:
                name, sc = item.rsplit(":", 1)
                hits.append((name, float(sc)))
            out[path] = (verdict, float(score), hits)
    return out


def run_scan(args, paths):
    """sluice-scan ... scan PATHS: {path: [(name, score)]}."""
    return {path: hits for path, (_verdict, _score, hits) in scan(args, paths).items()}


def learn(db, cls, paths, prog="crossval"):
    for i in range(0, len(paths), 2000):
        res = subprocess.run([SCAN, "--db", db, "learn", cls] + paths[i:i + 2000], cwd=ROOT,
                             capture_output=True, text=True, check=False)
        if res.returncode != 0:
            sys.exit("%s: learn failed: %s" % (prog, res.stderr.strip()))


def fit(X, y, names):
    """L2 logistic regression, ham weighted; returns (weights, bias)."""
    n, m = X.shape
    w = np.zeros(m)
    b = 0.0
    sw = np.where(y == 1, 1.0, HAM_WEIGHT)
    sw = sw / sw.sum()
    lr = 0.5
    mw, vw, mb, vb = np.zeros(m), np.zeros(m), 0.0, 0.0
    for it in range(1, 3001):
        z = X @ w + b
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
        g = sw * (p - y)
        gw = X.T @ g + L2 * w / n * 100
        gb = g.sum()
        # Adam
        mw = 0.9 * mw + 0.1 * gw
        vw = 0.999 * vw + 0.001 * gw * gw
        mb = 0.9 * mb + 0.1 * gb
        vb = 0.999 * vb + 0.001 * gb * gb
        w -= lr * 0.05 * (mw / (1 - 0.9 ** it)) / (np.sqrt(vw / (1 - 0.999 ** it)) + 1e-8)
        b -= lr * 0.05 * (mb / (1 - 0.9 ** it)) / (np.sqrt(vb / (1 - 0.999 ** it)) + 1e-8)
    return w, b


def to_scores(X, y, w):
    """Scale logit weights to score points: THRESHOLD sits where at most
    FP_TARGET of the hams in X reach it."""
    z = X @ w
    ham = np.sort(z[y == 0])
    k = int(np.floor(len(ham) * (1 - FP_TARGET)))
    t = ham[min(k, len(ham) - 1)] + 1e-6
    spam_z = z[y == 1]
    if t <= 0:
        t = max(1e-3, float(np.median(spam_z)) / 4)
    scores = w * (THRESHOLD / t)
    return np.clip(scores, -8.0, 8.0)


def to_scores_with(X, y, w, extra):
    """Like to_scores, but the scale is chosen with EXTRA (the Bayes points)
    added: the largest recall on X whose hams stay within FP_TARGET."""
    z = X @ w
    best = None
    for c in np.exp(np.linspace(np.log(0.02), np.log(20), 400)):
        tot = c * z + extra
        fp = (tot[y == 0] >= THRESHOLD).mean()
        rec = (tot[y == 1] >= THRESHOLD).mean()
        if fp <= FP_TARGET and (best is None or rec > best[0]):
            best = (rec, c)
    c = best[1] if best else 0.02
    return np.clip(w * c, -8.0, 8.0)


def rates(scores, y):
    spam = scores[y == 1]
    ham = scores[y == 0]
    return (float((spam >= THRESHOLD).mean()), float((ham >= THRESHOLD).mean()),
            int((spam >= THRESHOLD).sum()), len(spam), int((ham >= THRESHOLD).sum()), len(ham))


def main():
    global FP_TARGET
    ap = argparse.ArgumentParser()
    ap.add_argument("--write-scores", action="store_true")
    ap.add_argument("--out", default=os.path.join(ROOT, "perf", "results", "filter_cv.md"))
    ap.add_argument("--jobs", default="2")
    ap.add_argument("--cached", action="store_true",
                    help="reuse build/cv/cache.npz (rule hits and per-fold Bayes) of a previous run")
    ap.add_argument("--fp-target", type=float, default=FP_TARGET,
                    help="the method before: ham share over the threshold on rules alone")
    ap.add_argument("--bayes-cap", type=float, default=JOINT_BAYES_CAP,
                    help="the joint fit: most points any Bayes band may carry")
    ap.add_argument("--joint-fp-target", type=float, default=JOINT_FP_TARGET,
                    help="the joint fit: ham share over the threshold, out of fold")
    ap.add_argument("--calibrate-with-bayes", action="store_true",
                    help="place the threshold with the Bayes points of the training folds "
                         "(their Bayes came from models that saw the evaluated fold: mild leak)")
    a = ap.parse_args()
    if not os.access(SCAN, os.X_OK):
        sys.exit("crossval: build/sluice-scan missing: run make all")

    paths, labels, groups = [], [], []
    for g, lab in TRAIN.items():
        for p in files_of(g):
            paths.append(p)
            labels.append(lab)
            groups.append(g)
    y = np.array(labels)
    folds = np.array([fold_of(p) for p in paths])
    t0 = time.time()

    cache = os.path.join(ROOT, "build", "cv", "cache.npz")
    if a.cached and os.path.exists(cache):
        c = np.load(cache, allow_pickle=True)
        X, gt, hand_score, bayes, names = c["X"], c["gt"], c["hand"], c["bayes"], list(c["names"])
        band, band_in = c["band"], c["band_in"]
        assert list(c["paths"]) == paths
    else:
        X, gt, hand_score, bayes, names, band, band_in = scan_all(a, paths, y, folds)
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        np.savez(cache, X=X, gt=gt, hand=hand_score, bayes=bayes, names=np.array(names),
                 paths=np.array(paths), band=band, band_in=band_in)
    FP_TARGET = a.fp_target
    return report(a, paths, y, folds, groups, X, gt, hand_score, bayes, names, band, band_in, t0)


def scan_all(a, paths, y, folds):
    # Rule hits without Bayes (tuned scores of 95_tuned.cf, if any, are
    # ignored: only which rules hit matters here).
    hand_rules = []
    rdir = os.path.join(ROOT, "conf", "rules")
    for f in sorted(os.listdir(rdir)):
        if f.endswith(".cf") and f != "95_tuned.cf":
            hand_rules += ["--rules", os.path.join(rdir, f)]
    HAND_RULES[:] = hand_rules
    hits = run_scan(hand_rules + ["--jobs", a.jobs], paths)
    hand = {}
    for p in paths:
        for name, sc in hits[p]:
            hand[name] = sc
    names = sorted(n for n in hand if n != "GTUBE" and not n.startswith("BAYES_"))
    col = {n: i for i, n in enumerate(names)}
    X = np.zeros((len(paths), len(names)))
    gt = np.zeros(len(paths))
    hand_score = np.zeros(len(paths))
    for i, p in enumerate(paths):
        for name, sc in hits[p]:
            if name in col:
                X[i, col[name]] = 1.0
            if name == "GTUBE":
                gt[i] = 1000.0
            hand_score[i] += sc

    # Bayes per fold, trained on the other folds.
    bayes = np.zeros(len(paths))
    band = np.zeros((len(paths), len(BANDS)))
    for k in range(K):
        train = [i for i in range(len(paths)) if folds[i] != k]
        test = [i for i in range(len(paths)) if folds[i] == k]
        sc, bd = bayes_pass(a, paths, y, train, test, "fold%d" % k)
        bayes[test], band[test] = sc, bd
    band_in = inner_bayes(a, paths, y, folds)
    return X, gt, hand_score, bayes, names, band, band_in


def bayes_pass(a, paths, y, train, test, tag):
    """A fresh Bayes store learns TRAIN; TEST is scanned with it. Returns
    the BAYES_* points (hand-written band scores) and the band hits (0/1 per
    BANDS column) of each message of TEST."""
    db = os.path.join(ROOT, "build", "cv", tag)
    shutil.rmtree(db, ignore_errors=True)
    os.makedirs(db)
    learn(db, "spam", [paths[i] for i in train if y[i] == 1])
    learn(db, "ham", [paths[i] for i in train if y[i] == 0])
    res = run_scan(HAND_RULES + ["--db", db, "--jobs", a.jobs], [paths[i] for i in test])
    shutil.rmtree(db, ignore_errors=True)
    sc = np.zeros(len(test))
    bd = np.zeros((len(test), len(BANDS)))
    for t, i in enumerate(test):
        for name, pts in res[paths[i]]:
            if name.startswith("BAYES_"):
                sc[t] += pts
                bd[t, BANDS.index(name)] = 1.0
    return sc, bd


def inner_bayes(a, paths, y, folds):
    """Nested Bayes for fitting: band_in[k, i] (for folds[i] != k) comes from
    a store that learned every fold except k and i's own. So the Bayes bands
    that fold k's score fit sees on its training messages are out-of-sample
    for them, and fold k never entered them (20 stores for K = 5)."""
    band_in = np.zeros((K, len(paths), len(BANDS)))
    for k in range(K):
        for j in range(K):
            if j == k:
                continue
            train = [i for i in range(len(paths)) if folds[i] not in (k, j)]
            test = [i for i in range(len(paths)) if folds[i] == j]
            _sc, bd = bayes_pass(a, paths, y, train, test, "fold%d-%d" % (k, j))
            band_in[k, test] = bd
    return band_in


def band_features(B):
    """The Bayes bands as ordinal features: column j-1 is 1 when the band is
    BANDS[j] or higher (j = 1 .. 8, BAYES_05 ... BAYES_99), the last column
    is BAYES_999. A band's points are then the sum of the steps below it,
    so a sparse middle band borrows strength from its neighbours instead of
    getting a weight from a handful of messages. BAYES_00 (and no opinion)
    is the baseline, 0 points."""
    C = np.zeros((B.shape[0], len(BANDS) - 1))
    for j in range(1, len(BANDS) - 1):
        C[:, j - 1] = B[:, j:len(BANDS) - 1].sum(axis=1)
    C[:, -1] = B[:, -1]
    return C


def band_points(w, cap):
    """Points per band (BANDS order) from the weights of band_features, no
    band (BAYES_99 with BAYES_999 included) above CAP: Bayes on its own must
    not reject a message."""
    steps = np.minimum(np.concatenate([[0.0], np.cumsum(w[:-1])]), cap)
    top = min(steps[-1] + w[-1], cap) - steps[-1]
    return np.concatenate([steps, [top]])


def band_weights(pts):
    """The inverse of band_points: weights for band_features."""
    return np.concatenate([np.diff(pts[:-1]), [pts[-1]]])


def fit_joint(F, y, f, fpt):
    """The shipped fit: L2 logistic regression on the features F (rule hits
    and Bayes bands, 0/1), hams weighted JOINT_HAM_WEIGHT. The spam
    threshold is placed with an inner cross-validation over the folds F of
    the rows (f): each inner fold is scored by a model fitted without it, and
    the threshold goes where at most FPT of those out-of-fold ham scores
    reach it; then the full model's weights are scaled to points so that
    this threshold is THRESHOLD. Returns the points per feature."""
    w, b = fit_lr(F, y, JOINT_HAM_WEIGHT, JOINT_L2)
    oof = np.zeros(len(y))
    for j in np.unique(f):
        m = f != j
        wj, bj = fit_lr(F[m], y[m], JOINT_HAM_WEIGHT, JOINT_L2)
        oof[~m] = F[~m] @ wj + bj
    ham = np.sort(oof[y == 0])
    t = ham[min(int(np.floor(len(ham) * (1 - fpt))), len(ham) - 1)] + 1e-6
    d = t - b
    if d <= 0:  # degenerate: the bias alone passes the threshold
        d = max(1e-3, float(np.median(F[y == 1] @ w)))
    return np.clip(w * (THRESHOLD / d), -8.0, 8.0)


def fit_lr(F, y, ham_weight, l2, iters=1500):
    """L2 logistic regression (Adam), sample weights 1 for spam and
    HAM_WEIGHT for ham, normalised; returns (weights, bias)."""
    n, m = F.shape
    w = np.zeros(m)
    b = 0.0
    sw = np.where(y == 1, 1.0, ham_weight)
    sw = sw / sw.sum()
    mw, vw, mb, vb = np.zeros(m), np.zeros(m), 0.0, 0.0
    for it in range(1, iters + 1):
        z = F @ w + b
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))
        g = sw * (p - y)
        gw = F.T @ g + l2 * w
        gb = g.sum()
        mw = 0.9 * mw + 0.1 * gw
        vw = 0.999 * vw + 0.001 * gw * gw
        mb = 0.9 * mb + 0.1 * gb
        vb = 0.999 * vb + 0.001 * gb * gb
        w -= 0.05 * (mw / (1 - 0.9 ** it)) / (np.sqrt(vw / (1 - 0.999 ** it)) + 1e-8)
        b -= 0.05 * (mb / (1 - 0.9 ** it)) / (np.sqrt(vb / (1 - 0.999 ** it)) + 1e-8)
    return w, b


def rules_alone(X, y, calibrate=None):
    """The rules fitted alone, the method shipped before the score sets (fit,
    then to_scores: THRESHOLD where at most FP_TARGET of the hams of X reach
    it, in sample, or with CALIBRATE, the Bayes points of the rows, added).
    Points per rule."""
    w, _b = fit(X, y.astype(float), None)
    if calibrate is not None:
        return to_scores_with(X, y, w, calibrate)
    return to_scores(X, y, w)


def report(a, paths, y, folds, groups, X, gt, hand_score, bayes, names, band, band_in, t0):
    yf = y.astype(float)
    # The rules fitted alone on the other four folds, two ways: as shipped
    # before the score sets (in-sample threshold; judged without Bayes and,
    # as then, with the hand-written Bayes band scores added), and as set 0
    # (set0_fit: the joint fit's method on the rule hits alone, threshold by
    # inner cross-validation), judged without Bayes.
    before = np.zeros(len(paths))
    set0 = np.zeros(len(paths))
    for k in range(K):
        tr = folds != k
        te = folds == k
        s = rules_alone(X[tr], y[tr], bayes[tr] if a.calibrate_with_bayes else None)
        before[te] = X[te] @ s + gt[te]
        set0[te] = X[te] @ set0_fit(a, X[tr], y[tr], folds[tr]) + gt[te]

    # Score set 1 per fold: the joint fit. Features are the rule hits and
    # the Bayes bands; the training messages' bands come from the nested
    # stores (band_in[k]: out-of-sample for each message, fold k never
    # learned), fold k's own bands from the store that learned the other
    # four folds.
    joint = np.zeros(len(paths))
    joint_nobayes = np.zeros(len(paths))
    fold_points = []
    for k in range(K):
        tr = folds != k
        te = folds == k
        F = np.hstack([X[tr], band_features(band_in[k][tr])])
        s = fit_joint(F, yf[tr], folds[tr], a.joint_fp_target)
        pts = band_points(s[len(names):], a.bayes_cap)
        s[len(names):] = band_weights(pts)
        fold_points.append(pts)
        joint[te] = np.hstack([X[te], band_features(band[te])]) @ s + gt[te]
        joint_nobayes[te] = X[te] @ s[:len(names)] + gt[te]

    # In these folds every store learned 400 spams and 2200 hams, so Bayes
    # has an opinion on every message: with a trained store the appliance
    # uses set 1 throughout; a fresh one uses set 0 throughout.
    shipped = {"set 1, Bayes active": joint, "set 0, no Bayes opinion": set0}
    rows = [
        ("hand-written scores, rules only", hand_score),
        ("hand-written scores + Bayes", hand_score + bayes),
        ("rules fitted alone, in-sample threshold (shipped before), no Bayes", before),
        ("the same + hand-written Bayes bands (shipped before, with Bayes)", before + bayes),
        ("**set 1** (joint fit, rules + Bayes bands): **shipped, Bayes has an opinion**",
         joint),
        ("**set 0** (rules fitted alone, threshold by inner CV), no Bayes: **shipped, Bayes "
         "has no opinion**", set0),
        ("set 1's scores while Bayes has no opinion (one score set, as before)",
         joint_nobayes),
    ]
    per_fold = []
    for k in range(K):
        m = folds == k
        per_fold.append((k,) + tuple(rates(sc[m], y[m]) for sc in shipped.values()))
    per_group = []
    for g in TRAIN:
        m = np.array([gg == g for gg in groups])
        per_group.append((g, int(m.sum())) +
                         tuple(int((sc[m] >= THRESHOLD).sum()) for sc in shipped.values()))
    band_pts = np.array(fold_points)
    dt = time.time() - t0

    lines = ["# Content filter: 5-fold cross-validation on the training groups", "",
             "Generated by `perf/filter/crossval.py` on %s. Groups: easy-ham-1 (2500), "
             "hard-ham-1 (250), spam-1 (500) of the SpamAssassin public corpus "
             "(`make corpus`). The held-out groups easy-ham-2 and spam-2 were not read. "
             "Fold = md5(file name) mod 5. Spam means a total score of at least %.1f. "
             "Targets: recall >= 97 %%, ham false positives <= 0.5 %%."
             % (time.strftime("%Y-%m-%d"), THRESHOLD), "",
             "For each fold k, Bayes learned the other four folds, and both score sets "
             "were fitted on the other four folds only (docs/filter-rules.md, \"Score "
             "sets\"). **Set 1** (used when Bayes has an opinion) is the joint fit: the "
             "rule hits and the Bayes bands (BAYES_00 ... BAYES_999) together, L2 logistic "
             "regression (L2 %g, hams weighted x%g); the bands of its training messages "
             "come from nested stores that learned neither fold k nor the message's own "
             "fold (20 stores), so they are as unsure as fold k's own; the bands enter as "
             "ordinal steps (at least BAYES_05, at least BAYES_20, ...), so a band's points "
             "are the sum of the steps below it; the threshold is placed by an inner "
             "cross-validation over the four training folds, where at most %.2f %% of their "
             "out-of-fold hams reach it. **Set 0** (used while Bayes has no opinion: no "
             "store, or fewer than 200 learned spams or hams) is the rules fitted alone "
             "by the same method (no band features, the same L2, ham weight and inner "
             "threshold), judged on fold k without Bayes. The method shipped before the "
             "score sets fitted the rules alone too, but placed the threshold in sample "
             "(hams x%g, L2 %g, where %.2f %% of the training hams reach it) and added the "
             "hand-written band scores; its rows are kept for comparison."
             % (JOINT_L2, JOINT_HAM_WEIGHT, 100 * a.joint_fp_target, HAM_WEIGHT, L2,
                100 * FP_TARGET), "",
             "| configuration | spam recall | ham false positives |", "|---|---|---|"]
    for label, sc in rows:
        r, f, ns, ts, nh, th = rates(sc, y)
        lines.append("| %s | %.2f %% (%d/%d) | %.2f %% (%d/%d) |" %
                     (label, 100 * r, ns, ts, 100 * f, nh, th))
    lines += ["", "Per fold (the shipped score sets):", "",
              "| fold | set 1 recall | set 1 false positives | set 0 recall (no Bayes) "
              "| set 0 false positives (no Bayes) |", "|---|---|---|---|---|"]
    for k, r1, r0 in per_fold:
        cells = []
        for r, f, ns, ts, nh, th in (r1, r0):
            cells += ["%.2f %% (%d/%d)" % (100 * r, ns, ts), "%.2f %% (%d/%d)" % (100 * f, nh, th)]
        lines.append("| %d | %s |" % (k, " | ".join(cells)))
    lines += ["", "Per group (the shipped score sets): messages judged spam", "",
              "| group | messages | set 1, Bayes active | set 0, no Bayes |", "|---|---|---|---|"]
    for g, n, s1, s0 in per_group:
        lines.append("| %s | %d | %d | %d |" % (g, n, s1, s0))
    lines += ["", "Bayes band points fitted per fold (set 1):", "",
              "| fold | " + " | ".join(BANDS) + " |", "|---|" + "---|" * len(BANDS)]
    for k in range(K):
        lines.append("| %d | " % k + " | ".join("%+.2f" % v for v in band_pts[k]) + " |")
    lines += ["", "Rules that hit at least one training message: %d. Run time %.0f s%s." %
              (len(names), dt, " (refit from the cached scans, `--cached`)" if a.cached else ""),
              ""]
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))

    if a.write_scores:
        write_scores(a, X, y, folds, names, band, bayes)


def set0_fit(a, X, y, f):
    """Score set 0: the rules fitted alone, by the joint fit's method
    (fit_joint on the rule hits without band features: L2 logistic
    regression, threshold by inner cross-validation over the folds F).
    Points per rule."""
    return fit_joint(X, y.astype(float), f, a.joint_fp_target)


def write_scores(a, X, y, folds, names, band, bayes):
    """Both score sets fitted on all three groups, written to 95_tuned.cf.
    Set 0: the rules alone. Set 1: the joint fit, each message's bands from
    the store that learned the other four folds (out-of-sample for it), the
    threshold by cross-validation over the five folds."""
    yf = y.astype(float)
    s0 = set0_fit(a, X, y, folds)
    s1 = fit_joint(np.hstack([X, band_features(band)]), yf, folds, a.joint_fp_target)
    bpts = band_points(s1[len(names):], a.bayes_cap)
    support = X.sum(axis=0)
    out = os.path.join(ROOT, "conf", "rules", "95_tuned.cf")
    with open(out, "w") as f:
        f.write("# 95_tuned.cf - scores fitted by perf/filter/crossval.py --write-scores on the\n"
                "# training groups only (easy-ham-1, hard-ham-1, spam-1), two score sets:\n"
                "#   score NAME set0 set1\n"
                "# Set 0 is used while Bayes has no opinion (no store, or fewer than 200\n"
                "# learned spams or hams): the rules fitted alone. Set 1 is used when Bayes\n"
                "# has an opinion: the rule hits and the Bayes bands fitted together. Both:\n"
                "# L2 logistic regression (L2 %g, hams weighted x%g), scaled so that the\n"
                "# spam threshold %.1f passes at most %.2f %% of the hams in a 5-fold\n"
                "# cross-validation. A later score line wins, so these override the\n"
                "# hand-written scores; rules that hit fewer than 3 training messages keep\n"
                "# their hand-written score in both sets. The BAYES_* lines set the points of\n"
                "# the Bayes bands, which fire only in set 1 (docs/filter-bayes.md). Each set\n"
                "# is one fitted model: editing one score by hand moves the balance.\n\n"
                % (JOINT_L2, JOINT_HAM_WEIGHT, THRESHOLD, 100 * a.joint_fp_target))
        for i, n in enumerate(names):
            if support[i] >= 3 and not n.startswith("__"):
                f.write("score %-28s %7.3f %7.3f\n" % (n, s0[i], s1[i]))
        f.write("\n# Bayes bands (set 1 only)\n")
        for j, n in enumerate(BANDS):
            f.write("score %-28s %7.3f\n" % (n, bpts[j]))
    print("wrote", out)


if __name__ == "__main__":
    main()
