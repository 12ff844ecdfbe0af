"""The report's HTML: one jinja2 template with inline CSS. Kept in Python so it ships with the
package without package-data settings. The Content-Security-Policy forbids every request: the
page can only show what it carries (inline styles and ``data:`` images)."""

from __future__ import annotations

__all__ = ["TEMPLATE", "CSP"]

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp|safe }}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Model card — {{ card.model.name }}</title>
<style>
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: #1d2330; max-width: 1080px; margin: 0 auto; padding: 24px; background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 2px solid #e3e7ef; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
.sub { color: #5b6475; margin: 0 0 12px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
th, td { border: 1px solid #dde2ea; padding: 3px 8px; text-align: right; } th { background: #f3f5f9; }
td.l, th.l { text-align: left; }
.verdict { padding: 10px 14px; border-radius: 6px; margin: 8px 0; }
.ok { background: #e9f6ee; border-left: 5px solid #44aa66; } .warn { background: #fff4e5; border-left: 5px solid #dd7733; }
.bad { background: #fdecec; border-left: 5px solid #cc3333; } .info { background: #eef3fb; border-left: 5px solid #3366aa; }
.small { color: #8a5a00; } .muted { color: #6b7385; font-size: 12px; }
img { max-width: min(100%, 780px); height: auto; border: 1px solid #eef0f4; }
nav a { margin-right: 10px; color: #3366aa; text-decoration: none; font-size: 13px; }
code, pre { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; max-height: 360px; }
.grid { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
ul { margin: 4px 0 8px 18px; padding: 0; }
</style>
</head>
<body>
{% macro num(v, d=4) %}{% if v is none %}—{% elif v is number %}{{ "%.*f"|format(d, v) }}{% else %}{{ v }}{% endif %}{% endmacro %}
{% macro val(v) %}{% if v is integer and v is not sameas true and v is not sameas false %}{{ v }}{% else %}{{ num(v) }}{% endif %}{% endmacro %}
{% macro pct(v) %}{% if v is none %}—{% else %}{{ "%.1f"|format(100 * v) }}%{% endif %}{% endmacro %}
<header id="summary">
<h1>Model card: {{ card.model.name }}</h1>
{% set shown = sections|map("first")|list %}
<p class="sub">{% if card.model.task == "cluster" %}clustering into <b>{{ card.clusters.k if card.clusters else "?" }}</b> groups{% elif card.model.task == "anomaly" %}anomaly detector (autoencoder reconstruction error){% elif card.model.task == "rl" %}{{ card.rl.algorithm|upper }} policy for <b>{{ card.rl.env }}</b>{% else %}{{ card.model.task }} model predicting <b>{{ card.model.label }}</b>{% endif %}{% if card.model.classes %} ({{ card.model.classes|length }} classes{% if card.model.positive_label is not none %}, positive class <b>{{ card.model.positive_label }}</b>{% endif %}){% endif %} · generated {{ card.generated }} by {{ card.generated_by }}</p>
<nav>{% for id, title in sections %}<a href="#{{ id }}">{{ title }}</a>{% endfor %}</nav>
{% if failed_checks %}<div class="verdict bad"><b>{{ failed_checks|length }} check(s) failed:</b> {% for c in failed_checks %}{{ c.attribute }} {{ c.measure }} = {{ num(c.value, 3) }} (limit {{ c.limit }}){% if not loop.last %}; {% endif %}{% endfor %}</div>{% endif %}
</header>

{% if "intended-use" in shown %}<section id="intended-use"><h2>Intended use</h2><p>{{ card.intended_use }}</p></section>{% endif %}

{% if "environment" in shown %}<section id="environment"><h2>Environment</h2>
<table><tr><th class="l">environment</th><td class="l"><code>{{ card.rl.env }}</code>{% if card.rl.env_kwargs %} {{ card.rl.env_kwargs }}{% endif %}</td></tr>
<tr><th class="l">algorithm</th><td class="l">{{ card.rl.algorithm|upper }}</td></tr>
<tr><th class="l">environments side by side</th><td class="l">{{ card.rl.n_envs }}</td></tr>
<tr><th class="l">step budget</th><td class="l">{{ card.rl.total_steps }}</td></tr>
{% if card.model.architecture %}<tr><th class="l">policy network</th><td class="l">hidden {{ card.model.architecture.hidden }}, {{ card.model.architecture.activation }}{% if card.model.architecture.normalize_obs %}, observations normalised{% endif %}</td></tr>{% endif %}</table>
</section>{% endif %}

{% if "data" in shown %}<section id="data"><h2>Data</h2>
<table><tr><th class="l">source</th><td class="l"><code>{{ card.data.source }}</code></td></tr>
<tr><th class="l">fingerprint</th><td class="l"><code>{{ card.data.fingerprint }}</code></td></tr>
<tr><th class="l">rows read / kept</th><td class="l">{{ card.data.rows_in }} / {{ card.data.rows_out }}</td></tr>
<tr><th class="l">sensitive columns</th><td class="l">{{ card.data.sensitive|join(", ") if card.data.sensitive else "none declared" }}</td></tr></table>
<h3>What preparation changed</h3>
{% if card.data.preparation %}<table><tr><th class="l">step</th><th>rows in</th><th>rows out</th><th>quarantined</th></tr>
{% for s in card.data.preparation %}<tr><td class="l">{{ s.step }}</td><td>{{ s.rows_in }}</td><td>{{ s.rows_out }}</td><td>{{ s.rows_quarantined }}</td></tr>{% endfor %}</table>
{% else %}<p class="muted">No preparation steps recorded.</p>{% endif %}
<h3>Audit findings</h3>
{% if card.data.audit and card.data.audit.findings %}<ul>{% for f in card.data.audit.findings[:20] %}<li>{% if f is mapping %}{{ f.get("check") or f.get("kind") or "" }} {{ f.get("message") or f.get("summary") or f }}{% else %}{{ f }}{% endif %}</li>{% endfor %}</ul>
{% elif card.data.audit %}<p>No findings.</p>{% else %}<p class="muted">No audit.json in the run directory (the audit did not run).</p>{% endif %}
</section>{% endif %}

{% if "splits" in shown %}<section id="splits"><h2>Splits</h2>
<table><tr><th class="l">method</th><th>seed</th>{% for k, v in card.splits.sizes.items() %}<th>{{ k }} rows</th>{% endfor %}</tr>
<tr><td class="l">{{ card.splits.method }}</td><td>{{ card.splits.seed }}</td>{% for k, v in card.splits.sizes.items() %}<td>{{ v }}</td>{% endfor %}</tr></table>
{% if card.model.task == "anomaly" %}<p class="muted">The autoencoder trained on the train split and stopped early on the validation split; the threshold is a quantile of the train split's scores; every row was scored.</p>{% else %}<p class="muted">The test split was scored once, after training, with the best weights; it chose nothing.</p>{% endif %}
</section>{% endif %}

{% if "training" in shown %}<section id="training"><h2>Training</h2>
{% if card.model.task == "rl" %}<table><tr><th class="l">environment steps</th><td>{{ card.rl.env_steps }}</td><th class="l">iterations</th><td>{{ card.rl.iterations }}</td><th class="l">episodes</th><td>{{ card.rl.episodes }}</td></tr>
<tr><th class="l">steps per second</th><td>{{ num(card.rl.env_steps_per_s, 0) }}</td><th class="l">time</th><td>{{ num(card.training.seconds, 1) }} s</td><th class="l">hardware</th><td class="l">{{ card.training.hardware.device }}, torch {{ card.training.hardware.torch }}, Python {{ card.training.hardware.python }}</td></tr>
{% if card.rl.resumed_from_iteration %}<tr><th class="l">resumed from iteration</th><td>{{ card.rl.resumed_from_iteration }}</td></tr>{% endif %}</table>
{% elif card.model.task == "cluster" %}<table><tr><th class="l">k</th><td>{{ card.clusters.k }}</td><th class="l">chosen by</th><td class="l">{{ card.clusters.chosen_by }}</td><th class="l">feature scale</th><td class="l">{{ card.clusters.scale }}</td><th class="l">time</th><td>{{ num(card.training.seconds, 1) }} s</td></tr></table>
{% if images.silhouette %}<img alt="silhouette per k" src="data:image/png;base64,{{ images.silhouette }}">{% endif %}
{% else %}<table><tr><th class="l">epochs run</th><td>{{ card.training.epochs }}</td><th class="l">best epoch</th><td>{{ card.training.best_epoch }}</td>
<th class="l">stopped early</th><td>{{ card.training.stopped_early }}</td></tr>
<tr><th class="l">learning rate</th><td>{{ card.training.lr }}</td><th class="l">time</th><td>{{ num(card.training.seconds, 1) }} s</td>
<th class="l">hardware</th><td class="l">{{ card.training.hardware.device }}, torch {{ card.training.hardware.torch }}, Python {{ card.training.hardware.python }}</td></tr></table>{% endif %}
<details><summary>Resolved recipe</summary><pre>{{ recipe_yaml }}</pre></details>
</section>{% endif %}

{% if "learning-curves" in shown %}<section id="learning-curves"><h2>Learning curves and the overfitting verdict</h2>
{% set lc = card.learning_curves %}
<div class="verdict {{ {'fitting_well': 'ok', 'overfitting': 'bad', 'underfitting': 'warn'}.get(lc.verdict, 'info') }}"><b>{{ lc.verdict|replace("_", " ") }}{% if lc.from_epoch %} from epoch {{ lc.from_epoch }}{% endif %}.</b> {{ lc.summary }}</div>
{% if images.learning_curves %}<img alt="learning curves" src="data:image/png;base64,{{ images.learning_curves }}">{% endif %}
{% if lc.evidence %}<h3>Evidence</h3><ul>{% for e in lc.evidence %}<li>{{ e }}</li>{% endfor %}</ul>{% endif %}
{% if lc.advice %}<h3>Advice</h3><ul>{% for a in lc.advice %}<li>{{ a }}</li>{% endfor %}</ul>{% endif %}
</section>{% endif %}

{% if "metrics" in shown %}<section id="metrics"><h2>Test metrics</h2>
{% if card.headline %}<table><tr><th class="l">metric</th><th>value</th><th>95% interval</th></tr>
{% for m in card.headline %}<tr><td class="l">{{ m.metric }}</td><td>{{ num(m.value) }}</td><td>{% if m.low is not none %}{{ num(m.low) }} – {{ num(m.high) }}{% else %}—{% endif %}</td></tr>{% endfor %}</table>
<p class="muted">Intervals: percentile bootstrap over {{ ev.bootstrap.resamples if ev else "?" }} resamples of the {{ ev.test.rows if ev else "?" }} test rows.</p>
{% else %}<p>No test metrics (the test split was empty).</p>{% endif %}
{% if ev and ev.test.threshold %}{% set th = ev.test.threshold %}
<h3 id="threshold">Decision threshold</h3>
<p>{% if th.chosen_on %}Chosen on the validation split to maximise positive-class F1: <b>{{ num(th.threshold, 3) }}</b> (validation F1 {{ num(th.validation_f1, 3) }} vs {{ num(th["validation_f1_at_0.5"], 3) }} at 0.5).{% else %}{{ th.note }}{% endif %}</p>
<table><tr><th class="l">on the test split</th><th>accuracy</th><th>balanced accuracy</th><th>precision</th><th>recall</th><th>positive F1</th></tr>
<tr><td class="l">threshold 0.5</td>{% for k in ["accuracy", "balanced_accuracy", "precision", "recall", "positive_f1"] %}<td>{{ num(th["test_at_0.5"][k], 3) }}</td>{% endfor %}</tr>
<tr><td class="l">threshold {{ num(th.threshold, 3) }}</td>{% for k in ["accuracy", "balanced_accuracy", "precision", "recall", "positive_f1"] %}<td>{{ num(th.test_at_threshold[k], 3) }}</td>{% endfor %}</tr></table>{% endif %}
{% if ev and ev.test.per_class %}<h3>Per class</h3><table><tr><th class="l">class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>
{% for c in ev.test.per_class %}<tr><td class="l">{{ c["class"] }}</td><td>{{ num(c.precision, 3) }}</td><td>{{ num(c.recall, 3) }}</td><td>{{ num(c.f1, 3) }}</td><td>{{ c.support }}</td></tr>{% endfor %}</table>{% endif %}
{% if images.residuals %}<h3>Residuals</h3><img alt="residual plot" src="data:image/png;base64,{{ images.residuals }}">{% endif %}
</section>{% endif %}

{% if ev and ev.test.calibration %}<section id="calibration"><h2>Calibration</h2>
<div class="grid"><div><img alt="reliability diagram" src="data:image/png;base64,{{ images.reliability }}"></div>
<div><p>Expected calibration error (top-label, {{ ev.test.calibration.bins|length }} non-empty bins of width 0.1): <b>{{ num(ev.test.metrics.ece, 4) }}</b>.</p>
<p>Brier score: <b>{{ num(ev.test.metrics.brier, 4) }}</b>.</p></div></div></section>{% endif %}

{% if images.confusion %}<section id="confusion"><h2>Confusion matrix</h2><img alt="confusion matrix" src="data:image/png;base64,{{ images.confusion }}"></section>{% endif %}

{% if "fairness" in shown %}<section id="fairness"><h2>Fairness</h2>
{% set fair = ev.fairness if ev else none %}
{% if not fair %}<p>Not assessed: the recipe names no <code>data.sensitive</code> columns.</p>{% else %}
{% for w in fair.warnings %}<p class="small">⚠ {{ w }}</p>{% endfor %}
{% for name, a in fair.attributes.items() %}
<h3>{{ name }}{% if a.intersectional %} (intersectional){% endif %}</h3>
{% set d = a.disparity %}
{% if d.dp_difference is defined %}<p>Selection-rate gap (demographic-parity difference): <b>{{ num(d.dp_difference, 4) }}</b>{% if d.dp_highest %} ({{ d.dp_highest }} highest, {{ d.dp_lowest }} lowest){% endif %}; ratio {{ num(d.dp_ratio, 3) }}; equalized-odds difference {{ num(d.eo_difference, 4) }} (TPR gap {{ num(d.tpr_difference, 4) }}, FPR gap {{ num(d.fpr_difference, 4) }}).</p>{% endif %}
<table><tr><th class="l">group</th><th>rows</th>{% for k in metric_keys[card.model.task] %}<th>{{ k|replace("_", " ") }}</th>{% endfor %}</tr>
{% for g in a.groups %}<tr{% if g.small %} class="small"{% endif %}><td class="l">{{ g.group }}{% if g.small %} ⚠{% endif %}</td><td>{{ g.rows }}</td>{% for k in metric_keys[card.model.task] %}<td>{{ num(g[k], 3) }}</td>{% endfor %}</tr>{% endfor %}</table>
{% if images.fairness[name] %}<img alt="fairness {{ name }}" src="data:image/png;base64,{{ images.fairness[name] }}">{% endif %}
{% endfor %}
{% if fair.checks %}<h3>Checks</h3><table><tr><th class="l">attribute</th><th class="l">measure</th><th>value</th><th>limit</th><th class="l">result</th></tr>
{% for c in fair.checks %}<tr><td class="l">{{ c.attribute }}</td><td class="l">{{ c.measure }}</td><td>{{ num(c.value, 4) }}</td><td>{{ c.limit }}</td><td class="l">{{ "passed" if c.passed else ("FAILED" if c.passed is false else c.note) }}</td></tr>{% endfor %}</table>{% endif %}
{% if fair.mitigation %}{% set m = fair.mitigation %}
<h3 id="mitigation">Mitigation: per-group thresholds for {{ m.attribute }} ({{ m.constraint|replace("_", " ") }})</h3>
<p>Thresholds chosen on the validation split to give every {{ m.attribute }} group the {{ "selection rate" if m.target_is == "selection_rate" else "true-positive rate" }} {{ num(m.target, 3) }}: {% for g, t in m.thresholds.items() %}{{ g }} {{ num(t, 3) }}{% if not loop.last %}, {% endif %}{% endfor %}.</p>
<table><tr><th class="l">on the test split</th><th>accuracy</th><th>DP difference</th><th>DP ratio</th><th>EO difference</th></tr>
<tr><td class="l">one threshold (0.5)</td><td>{{ num(m.test_before.accuracy) }}</td><td>{{ num(m.test_before.dp_difference) }}</td><td>{{ num(m.test_before.dp_ratio, 3) }}</td><td>{{ num(m.test_before.eo_difference) }}</td></tr>
<tr><td class="l">per-group thresholds</td><td>{{ num(m.test_after.accuracy) }}</td><td>{{ num(m.test_after.dp_difference) }}</td><td>{{ num(m.test_after.dp_ratio, 3) }}</td><td>{{ num(m.test_after.eo_difference) }}</td></tr></table>
<div class="verdict info">Trade-off: the demographic-parity difference changes by {{ pct(-m.dp_difference_reduction) if m.dp_difference_reduction is not none else "—" }} ({{ num(m.test_before.dp_difference, 3) }} → {{ num(m.test_after.dp_difference, 3) }}); this costs <b>{{ num(100 * m.accuracy_cost, 2) }} points of accuracy</b> ({{ num(m.test_before.accuracy) }} → {{ num(m.test_after.accuracy) }}). The bundle still predicts with one threshold; these thresholds need the sensitive column at prediction time.</div>
{% if images.mitigation %}<img alt="mitigation" src="data:image/png;base64,{{ images.mitigation }}">{% endif %}
{% endif %}
{% if fair.reweighting %}{% set r = fair.reweighting %}
<h3 id="reweighting">Mitigation: reweighting in training for {{ r.attribute }}</h3>
<p>A second model, trained with the same settings on the same rows, each weighted by P(group)·P(label) / P(group, label) on the training split (Kamiran &amp; Calders reweighing), so that label and {{ r.attribute }} are independent in what it learns from{% if r.training %} ({{ r.training.epochs }} epochs, {{ num(r.training.seconds, 1) }} s){% endif %}. Both models decide at one threshold of {{ r.base_threshold }}.</p>
<table><tr><th class="l">on the test split</th><th>accuracy</th><th>DP difference</th><th>DP ratio</th><th>EO difference</th></tr>
<tr><td class="l">unmitigated model</td><td>{{ num(r.test_before.accuracy) }}</td><td>{{ num(r.test_before.dp_difference) }}</td><td>{{ num(r.test_before.dp_ratio, 3) }}</td><td>{{ num(r.test_before.eo_difference) }}</td></tr>
{% if fair.mitigation and fair.mitigation.attribute == r.attribute %}{% set m = fair.mitigation %}<tr><td class="l">per-group thresholds</td><td>{{ num(m.test_after.accuracy) }}</td><td>{{ num(m.test_after.dp_difference) }}</td><td>{{ num(m.test_after.dp_ratio, 3) }}</td><td>{{ num(m.test_after.eo_difference) }}</td></tr>{% endif %}
<tr><td class="l">reweighted model</td><td>{{ num(r.test_after.accuracy) }}</td><td>{{ num(r.test_after.dp_difference) }}</td><td>{{ num(r.test_after.dp_ratio, 3) }}</td><td>{{ num(r.test_after.eo_difference) }}</td></tr></table>
<table><tr><th class="l">{{ r.attribute }}</th><th class="l">label</th><th>training rows</th><th>if independent</th><th>weight</th></tr>
{% for c in r.weights %}<tr><td class="l">{{ c.group }}</td><td class="l">{{ c.label }}</td><td>{{ c.rows }}</td><td>{{ num(c.expected_rows, 1) }}</td><td>{{ num(c.weight, 3) }}</td></tr>{% endfor %}</table>
<div class="verdict info">Trade-off: reweighting changes the demographic-parity difference by {{ pct(-r.dp_difference_reduction) if r.dp_difference_reduction is not none else "—" }} ({{ num(r.test_before.dp_difference, 3) }} → {{ num(r.test_after.dp_difference, 3) }}) and the equalized-odds difference by {{ "%+.3f"|format(r.eo_difference_change) if r.eo_difference_change is not none else "—" }}; it costs <b>{{ num(100 * r.accuracy_cost, 2) }} points of accuracy</b> ({{ num(r.test_before.accuracy) }} → {{ num(r.test_after.accuracy) }}). Unlike per-group thresholds it needs no sensitive column at prediction time; the bundle holds the unmitigated model.</div>
{% endif %}{% endif %}
</section>{% endif %}

{% if "slices" in shown %}<section id="slices"><h2>Worst slices</h2>
{% set sl = ev.slices if ev else none %}
{% if sl and sl.worst %}<p>{{ sl.slices_ranked }} slices of at least {{ sl.min_support }} test rows over {{ sl.columns|length }} columns; overall {{ sl.metric }} {{ num(sl.overall) }}.</p>
<table><tr><th class="l">slice</th><th>rows</th><th>{{ sl.metric }}</th><th>95% interval</th><th>vs overall</th></tr>
{% for s in sl.worst %}<tr><td class="l">{{ s.slice }}</td><td>{{ s.rows }}</td><td>{{ num(s.metric) }}</td><td>{{ num(s.low, 3) }} – {{ num(s.high, 3) }}</td><td>{{ "%+.4f"|format(s.gap) }}</td></tr>{% endfor %}</table>
{% else %}<p class="muted">No slices with enough rows.</p>{% endif %}
</section>{% endif %}

{% if "data-curve" in shown %}<section id="data-curve"><h2>Would more data help?</h2>
{% set dc = card.data_curve %}
{% if dc %}{% if dc.fit and dc.fit.ok %}<div class="verdict {{ 'ok' if dc.fit.flattened else 'info' }}">{{ dc.fit.verdict }}</div>
<p>Power-law fit of the validation error: {{ dc.fit.form }} with a = {{ num(dc.fit.a, 4) }}, b = {{ num(dc.fit.b, 3) }} (95% interval {{ num(dc.fit.b_interval[0], 3) }} – {{ num(dc.fit.b_interval[1], 3) }}), R² in log space {{ num(dc.fit.fit_r2_log, 3) }}.</p>{% elif dc.fit %}<p>{{ dc.fit.reason }}</p>{% endif %}
{% if images.data_curve %}<img alt="more-data curve" src="data:image/png;base64,{{ images.data_curve }}">{% endif %}
<table><tr><th>share of training split</th><th>training rows</th><th>validation {{ dc.metric }}</th></tr>
{% for p in dc.points %}<tr><td>{{ pct(p.fraction) }}</td><td>{{ p.train_rows }}</td><td>{{ num(p.metric) }}</td></tr>{% endfor %}</table>
{% else %}<p class="muted">Not computed for this run. Run <code>traincraft curve RECIPE</code> to train on 10–100% of the training split and see.</p>{% endif %}
</section>{% endif %}




{% if "reward-curves" in shown %}<section id="reward-curves"><h2>Reward curves</h2>
{% if images.rewards %}<img alt="reward curves" src="data:image/png;base64,{{ images.rewards }}">
<p>Mean return of the training episodes: {{ num(card.rl.first_return, 1) }} in the first iteration, {{ num(card.rl.best_training_return, 1) }} at best ({{ card.rl.curve|length }} iterations logged in metrics.jsonl).</p>
{% else %}<p class="muted">No iterations in metrics.jsonl.</p>{% endif %}
</section>{% endif %}

{% if "quality" in shown %}<section id="quality"><h2>{{ titles.quality }}</h2>
{% if card.headline %}<table><tr><th class="l">metric</th><th>value</th></tr>
{% for m in card.headline %}<tr><td class="l">{{ m.metric|replace("_", " ") }}</td><td>{{ val(m.value) }}</td></tr>{% endfor %}</table>{% else %}<p class="muted">No metrics recorded.</p>{% endif %}
{% if card.model.task == "rl" and card.rl.episodes %}<p>Final evaluation: {{ card.rl.episodes.eval_episodes }} episodes with deterministic actions, seeded apart from the training episodes. Returns: {{ card.rl.episodes.returns|map("round", 1)|join(", ") }}.</p>{% endif %}
{% if card.model.task == "cluster" and card.clusters and card.clusters.metrics.adjusted_rand is not none %}<p class="muted">Adjusted Rand index and normalised mutual information compare the clusters with the reference column <code>{{ card.training.recipe.cluster.reference }}</code>, which was never a feature.</p>{% endif %}
{% if card.model.task == "anomaly" and card.anomalies and card.anomalies.metrics.roc_auc is not none %}<p class="muted">ROC-AUC and precision / recall compare the scores with the known anomalies in <code>{{ card.training.recipe.anomaly.reference }}</code>, which was never a feature.</p>{% endif %}
</section>{% endif %}

{% if "clusters" in shown %}<section id="clusters"><h2>Cluster profiles</h2>
{% set cl = card.clusters %}
{% if cl and cl.profiles %}<table><tr><th>cluster</th><th>rows</th><th>share</th><th>mean distance to centre</th><th class="l">most distinctive</th></tr>
{% for p in cl.profiles %}<tr><td><a href="#cluster-{{ p.cluster }}">{{ p.cluster }}</a></td><td>{{ p.size }}</td><td>{{ pct(p.share) }}</td><td>{{ num(p.mean_distance, 3) }}</td><td class="l">{% for e in p.distinctive[:3] %}{{ e.column }} {{ num(e.typical, 2) }}{% if not loop.last %}, {% endif %}{% endfor %}</td></tr>{% endfor %}</table>
{% for p in cl.profiles %}<h3 id="cluster-{{ p.cluster }}">Cluster {{ p.cluster }}: {{ p.size }} rows ({{ pct(p.share) }})</h3>
<div class="grid"><div>{% if p.distinctive %}<table><tr><th class="l">column</th><th>typical here</th><th>typical overall</th><th>effect</th></tr>
{% for e in p.distinctive %}<tr><td class="l">{{ e.column }}</td><td>{{ num(e.typical, 3) }}</td><td>{{ num(e.overall, 3) }}</td><td>{{ "%+.2f"|format(e.effect) }}</td></tr>{% endfor %}</table>
<p class="muted">Typical: median (numbers) or most common value; effect: standardised mean difference, or share gap of the value.</p>{% endif %}</div>
<div>{% if p.nearest %}<table><tr><th class="l">row nearest the centre</th><th>distance</th>{% for c in p.nearest[0]["values"] %}<th class="l">{{ c }}</th>{% endfor %}</tr>
{% for r in p.nearest %}<tr><td class="l">{{ r.row_id }}</td><td>{{ num(r.distance, 3) }}</td>{% for c, v in r["values"].items() %}<td class="l">{{ num(v, 3) }}</td>{% endfor %}</tr>{% endfor %}</table>
{% elif p.nearest_rows %}<p>Rows nearest the centre: {{ p.nearest_rows|join(", ") }}</p>{% endif %}</div></div>
{% endfor %}{% else %}<p class="muted">No clusters.json in the run directory.</p>{% endif %}
</section>{% endif %}

{% if "anomalies" in shown %}<section id="anomalies"><h2>Most anomalous rows</h2>
{% set an = card.anomalies %}
{% if an %}<p>Threshold <b>{{ num(an.threshold, 5) }}</b>: the {{ pct(1 - an.contamination) }} quantile of the training rows' scores (anomaly.contamination {{ an.contamination }}); it flags <b>{{ an.metrics.flagged }}</b> of {{ an.rows or card.data.rows_in }} rows.</p>
{% if images.scores %}<img alt="score histogram" src="data:image/png;base64,{{ images.scores }}">{% endif %}
{% if an.top %}<table><tr><th>rank</th><th class="l">row</th><th>score</th><th class="l">flagged</th><th class="l">columns rebuilt worst (value, share of the error)</th></tr>
{% for t in an.top %}<tr><td>{{ loop.index }}</td><td class="l">{{ t.row_id }}</td><td>{{ num(t.score, 5) }}</td><td class="l">{{ "yes" if t.score > an.threshold else "no" }}</td><td class="l">{% for c in t.columns %}{{ c.column }} = {{ num(c.value, 4) }} ({{ pct(c.share_of_error) }}){% if not loop.last %}; {% endif %}{% endfor %}</td></tr>{% endfor %}</table>{% endif %}
{% else %}<p class="muted">No anomalies.json in the run directory.</p>{% endif %}
</section>{% endif %}

{% if "limitations" in shown %}<section id="limitations"><h2>Limitations</h2><ul>{% for l in card.limitations %}<li>{{ l }}</li>{% endfor %}</ul></section>{% endif %}
<footer class="muted"><p>Self-contained report: every figure is embedded; the page makes no network request. The same content for machines: card.json.</p></footer>
</body>
</html>
"""
