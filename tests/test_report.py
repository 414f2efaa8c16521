"""`mtbench report`: the safe text renderer, the report's content against show_result and the files, CLI
errors, and the file opened from disk in a real headless Chromium with no network."""

from __future__ import annotations

import base64
import hashlib
import html
import math
import re
import shutil
from pathlib import Path

import pytest

from mtbench.core.bench import BenchLayout
from mtbench.core.errors import UserError
from mtbench.core.record_files import load_answers, load_single_judgments
from mtbench.report import ReportConfig, build_report, resolve_judge
from mtbench.webview.markup import render_markdown
from tests.browser import (
    FAILED_ANSWER_REASON,
    PATH_JUDGE,
    XSS_MODEL,
    XSS_TURNS,
    break_answer_file,
    chromium,
    copy_data,
    judge_three_times,
    make_browse_data,
    make_data_dir,
    rename_judge,
)
from tests.cli import mtbench
from tests.conftest import MT_BENCH_DATA, REFERENCE_RUNS

SONNET = "claude-3-5-sonnet-20240620"

# ---------------------------------------------------------------------------------------------------
# the renderer (shared with browse)

# (hostile input, the escaped text it must become): the raw payload never survives as markup.
HOSTILE = [
    ("<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"),
    ('<img src=x onerror="alert(1)">', "<p>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</p>"),
    ("**<b onmouseover=alert(1)>x</b>**", "<strong>&lt;b onmouseover=alert(1)&gt;x&lt;/b&gt;</strong>"),
    ("`<script>`", "<code>&lt;script&gt;</code>"),
    (
        "```\n</code></pre><script>alert(1)</script>\n```",
        "<pre><code>&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;\n</code></pre>",
    ),
    ("1. <iframe src=javascript:alert(1)>", "<li>&lt;iframe src=javascript:alert(1)&gt;</li>"),
    ("- <svg onload=alert(1)>", "<li>&lt;svg onload=alert(1)&gt;</li>"),
    ("# <style>body{display:none}</style>", "<h3>&lt;style&gt;body{display:none}&lt;/style&gt;</h3>"),
    ("\"'><a href='javascript:alert(1)'>x</a>", "&quot;'&gt;&lt;a href='javascript:alert(1)'&gt;x&lt;/a&gt;"),
    ("```html\n<script>\n", "<pre><code>&lt;script&gt;\n</code></pre>"),  # an unclosed fence
    ('```js" onmouseover="alert(1)\nx\n```', "<pre><code>x\n</code></pre>"),  # no class from the info string
    ("&lt;script&gt; is text", "<p>&lt;script&gt; is text</p>"),
    ("| a |\n|---|\n| <script>x</script> |", "<td>&lt;script&gt;x&lt;/script&gt;</td>"),
    # links: only http, https and mailto become links; any other scheme stays the text it was
    ("[x](javascript:alert(1))", "<p>[x](javascript:alert(1))</p>"),
    ("[x](JaVaScRiPt:alert(1))", "<p>[x](JaVaScRiPt:alert(1))</p>"),
    ("[x](java&#115;cript:alert(1))", "<p>[x](javascript:alert(1))</p>"),
    ("[x](  javascript:alert(1))", "<p>[x](  javascript:alert(1))</p>"),
    ("[x](vbscript:msgbox(1))", "<p>[x](vbscript:msgbox(1))</p>"),
    ("[x](data:text/html;base64,PHNjcmlwdD4=)", "<p>[x](data:text/html;base64,PHNjcmlwdD4=)</p>"),
    ("[x](//evil.example/x)", "<p>[x](//evil.example/x)</p>"),
    ("<javascript:alert(1)>", "<p>&lt;javascript:alert(1)&gt;</p>"),
    ("[x]: javascript:alert(1)\n\n[x]", "<p>[x]: javascript:alert(1)</p>\n<p>[x]</p>"),
    # no images at all: a picture is a request leaving the page
    ("![x](https://evil.example/x.png)", '!<a href="https://evil.example/x.png" rel="nofollow noopener noreferrer">x</a>'),
    ("![x](data:image/png;base64,iVBORw0KGgo=)", "<p>![x](data:image/png;base64,iVBORw0KGgo=)</p>"),
]
SAFE_TAGS = {"p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "h3", "h4", "h5", "h6", "a", "blockquote",
             "hr", "table", "thead", "tbody", "tr", "th", "td"}
SAFE_ATTRIBUTE = re.compile(
    r'^(start="\d+"|href="(https?|mailto):[^"]*"|rel="nofollow noopener noreferrer"|class="align-(left|center|right)")$'
)


@pytest.mark.parametrize("text, escaped", HOSTILE)
def test_markdown_renders_hostile_input_as_text(text, escaped):
    out = render_markdown(text)
    assert escaped in out, out
    tags = re.findall(r"<(/?)([a-zA-Z0-9]+)([^>]*?)\s*/?>", out)
    assert {name for _, name, _ in tags} <= SAFE_TAGS, out
    for _, _, attrs in tags:
        for attr in re.findall(r'\S+="[^"]*"|\S+', attrs):
            assert SAFE_ATTRIBUTE.match(attr), (attr, out)
    assert not re.search(r"(javascript|vbscript|data):", "".join(a for _, _, a in tags), re.I), out


@pytest.mark.parametrize(
    "text, expected",
    [
        ("plain", "<p>plain</p>\n"),
        ("a\nb\n\nc", "<p>a<br />\nb</p>\n<p>c</p>\n"),  # a line break in an answer stays one
        ("**bold** and `x<y`", "<p><strong>bold</strong> and <code>x&lt;y</code></p>\n"),
        ("```python\nif a < b:\n    pass\n```", "<pre><code>if a &lt; b:\n    pass\n</code></pre>\n"),
        ("- one\n- two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n"),
        ("• one\n• two", "<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n"),  # FastChat's browser fixed these too
        ("3. three\n4. four", '<ol start="3">\n<li>three</li>\n<li>four</li>\n</ol>\n'),
        ("## Title", "<h4>Title</h4>\n"),
        ("a ` b", "<p>a ` b</p>\n"),
        ("say \"hi\" & 'bye'", "<p>say &quot;hi&quot; &amp; 'bye'</p>\n"),
        (
            "see [docs](https://example.com/a?b=1&c=2) or <mailto:x@example.com>",
            '<p>see <a href="https://example.com/a?b=1&amp;c=2" rel="nofollow noopener noreferrer">docs</a> or '
            '<a href="mailto:x@example.com" rel="nofollow noopener noreferrer">mailto:x@example.com</a></p>\n',
        ),
        (  # extraction answers are tables; alignment is a class (the pages' CSP refuses inline style)
            "| name | n |\n|:-----|--:|\n| a | 1 |",
            '<table>\n<thead>\n<tr>\n<th class="align-left">name</th>\n<th class="align-right">n</th>\n</tr>\n'
            '</thead>\n<tbody>\n<tr>\n<td class="align-left">a</td>\n<td class="align-right">1</td>\n</tr>\n'
            "</tbody>\n</table>\n",
        ),
    ],
)
def test_markdown_subset(text, expected):
    assert render_markdown(text) == expected


@pytest.mark.slow
def test_names_from_the_files_are_escaped_by_the_templates(data, tmp_path):
    """A model name is text from a judgment file too: autoescape, not a hand-placed escape(), covers it."""
    import json

    d = copy_data(data, tmp_path)
    name = '<img src=x onerror="window.__xss=5">'
    judged = d / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl"
    with judged.open("a") as f:
        for turn in (1, 2):
            prompt = "single-v1" if turn == 1 else "single-v1-multi-turn"
            record = {"question_id": 81, "model": name, "judge": ["gpt-4", prompt], "user_prompt": "p",
                      "judgment": "[[5]]", "score": 5, "turn": turn, "tstamp": 1.0}
            f.write(json.dumps(record) + "\n")
    page = build_report(ReportConfig(layout=BenchLayout(d), out=Path("x.html"), n_bootstrap=0))
    assert name not in page and "<img src=x" not in page
    escaped = "&lt;img src=x onerror=&#34;window.__xss=5&#34;&gt;"
    assert [r[0] for r in _table_rows(page, "scores")].count(escaped) == 1  # the leaderboard
    assert f"<th>{escaped}</th>" in page  # the by-category table
    assert f"; {escaped} no answer" in page  # question 81's summary line (it has no answer file)


# ---------------------------------------------------------------------------------------------------
# the report's content


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_browse_data(make_data_dir(tmp_path_factory.mktemp("report"), MT_BENCH_DATA), REFERENCE_RUNS)


@pytest.fixture(scope="module")
def single_html(data) -> str:
    return build_report(ReportConfig(layout=BenchLayout(data), out=Path("unused.html"), n_bootstrap=200))


def _table_rows(page: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    return [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr(?: class=\"partial\")?>(.*?)</tr>", body)]


def _partial_rows(page: str, table_id: str) -> list[str]:
    """The first cell of each row marked partial."""
    body = re.search(rf'<table id="{table_id}">.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    return re.findall(r'<tr class="partial"><td>(.*?)</td>', body)


@pytest.mark.slow
def test_report_is_self_contained_and_scriptless(single_html):
    assert "<script" not in single_html.lower()
    assert single_html.count("<img") == 1  # the radar chart; the hostile answer's <img> is text
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", single_html)
    csp = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', single_html).group(1))
    style = re.search(r"<style>(.*?)</style>", single_html, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert csp == (
        f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; base-uri 'none'; form-action 'none'"
    )
    radar = re.search(r'<img id="radar"[^>]*src="data:image/png;base64,([^"]+)"', single_html).group(1)
    assert base64.b64decode(radar)[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_numbers_are_show_results(single_html, data):
    from mtbench.show_result import ShowConfig, show

    report = show(
        ShowConfig(
            judgment_file=data / "mt_bench" / "model_judgment" / "gpt-4_single.jsonl",
            question_file=data / "mt_bench" / "question.jsonl",
            n_bootstrap=200,
        )
    )

    def f(x: float) -> str:
        return "-" if math.isnan(x) else f"{x:.2f}"

    rows = _table_rows(single_html, "scores")
    expected = [
        [
            m,
            f(r.first_turn),
            f(r.second_turn),
            f(r.overall),
            f"[{r.ci_low:.2f}, {r.ci_high:.2f}]",
            str(int(r.n_valid)),
            str(int(r.n_failed)),
            "1*" if m == XSS_MODEL else "80",  # show's n_questions, partial marked as show marks it
        ]
        for m, r in report.single.scores.iterrows()
    ]
    assert rows == expected
    assert _partial_rows(single_html, "scores") == [XSS_MODEL]
    assert "<th>questions (of 80)</th>" in single_html
    assert f"<li>partial coverage (marked *): {XSS_MODEL} 1 questions, fewer than the most-covered" in single_html
    assert rows[-1][:3] == [XSS_MODEL, "3.00", "-"]  # its only turn-2 judgment failed: no score, not a 0
    cats = _table_rows(single_html, "by-category")
    assert [r[0] for r in cats] == list(report.single.by_category.index)
    assert cats[0][1:] == [f"{v:.2f}" for v in report.single.by_category.iloc[0]]


def test_report_drilldown_has_every_question_answers_and_failures(single_html, data):
    assert len(re.findall(r'<details class="question" id="q\d+">', single_html)) == 80
    sonnet = load_answers(data / "mt_bench" / "model_answer" / f"{SONNET}.jsonl")[81]
    assert render_markdown(sonnet.turns[0]) in single_html
    assert XSS_TURNS[0] not in single_html and "<script>window.__xss" not in single_html  # rendered...
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in single_html  # ...as text
    assert "&lt;img src=x onerror=&quot;window.__xss=2&quot;&gt;" in single_html
    assert f"Failed answer: {FAILED_ANSWER_REASON}" in single_html
    assert "Failed judgment: unparseable" in single_html
    assert "Reference answer (gpt-4, given to the judge)" in single_html


def test_pairwise_report_shows_verdicts_and_inconsistency(data):
    page = build_report(
        ReportConfig(layout=BenchLayout(data), out=Path("x.html"), mode="pairwise-all", n_bootstrap=50)
    )
    assert "<script" not in page.lower() and "<img" not in page  # no radar in pairwise mode
    assert {r[0] for r in _table_rows(page, "scores")} == {"phi-3", "phi-3-dpo", SONNET, XSS_MODEL}
    q81 = re.search(r'<details class="question" id="q81">.*?</details>', page, re.S).group(0)
    assert f"Winner: {SONNET}" in q81 and "Tie (inconsistent: the two games disagree)" in q81
    assert "&lt;script&gt;window.__xss=4&lt;/script&gt;" in q81


# ---------------------------------------------------------------------------------------------------
# CLI


def test_cli_writes_the_report(data, tmp_path):
    out = tmp_path / "sub" / "report.html"
    result = mtbench(
        "report", "--data-dir", str(data), "--out", str(out), "--model-list", SONNET, "--bootstrap", "100"
    )
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    assert [r[0] for r in _table_rows(page, "scores")] == [SONNET]
    assert f"wrote {out}" in result.stderr


def test_cli_missing_judgments_is_one_line_exit_2(data, tmp_path):
    result = mtbench(
        "report", "--data-dir", str(data), "--out", str(tmp_path / "r.html"), "--judge-model", "gpt-5"
    )
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "no judgment file at" in result.stderr
    assert "gpt-5_single.jsonl" in result.stderr and not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"mode": "pairwise-baseline"}, "no matches against the baseline 'gpt-3.5-turbo'"),
        ({"model_list": ("nobody",)}, "model_list: no judgments for nobody"),  # a field: the CLI says --model-list
        ({"mode": "pairwise-x"}, "--mode must be one of"),
    ],
)
def test_bad_options_are_user_errors(data, options, message):
    with pytest.raises(UserError, match=re.escape(message)):
        build_report(ReportConfig(layout=BenchLayout(data), out=Path("x.html"), n_bootstrap=0, **options))


def test_several_judges_need_a_choice(data, tmp_path):
    d = tmp_path / "data"
    shutil.copytree(data, d)
    judged = d / "mt_bench" / "model_judgment"
    (judged / "gpt-4_single.jsonl").rename(judged / "judge-a_single.jsonl")
    shutil.copy(judged / "judge-a_single.jsonl", judged / "judge-b_single.jsonl")
    with pytest.raises(UserError, match="several judges have single judgments .judge-a, judge-b.; pick one"):
        resolve_judge(BenchLayout(d), None, "single")
    assert resolve_judge(BenchLayout(d), None, "pairwise-all") == "gpt-4"  # the only judge with pairs
    page = build_report(
        ReportConfig(
            layout=BenchLayout(d), out=Path("x.html"), judge_model="judge-b", n_bootstrap=0, drilldown=False
        )
    )
    assert "judge judge-b" in page and "<details" not in page


def test_cli_unwritable_out_is_exit_2(data, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = mtbench("report", "--data-dir", str(data), "--out", str(blocker / "r.html"), "--bootstrap", "0")
    assert result.returncode == 2 and "--out: cannot write" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_broken_answer_file_blocks_only_a_report_that_shows_its_model(data, tmp_path):
    d = copy_data(data, tmp_path)
    broken = break_answer_file(d, XSS_MODEL)
    out = tmp_path / "r.html"
    args = ("report", "--data-dir", str(d), "--out", str(out), "--bootstrap", "0")
    result = mtbench(*args, "--model-list", SONNET)  # xss-model is not in this report: its file is not read
    assert result.returncode == 0, result.stderr
    assert [r[0] for r in _table_rows(out.read_text(), "scores")] == [SONNET]
    result = mtbench(*args)  # every judged model, xss-model included: its file is read strictly
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"mtbench report: error: {broken}:2: not valid JSON"), line


@pytest.mark.slow
def test_judge_named_like_a_path(data, tmp_path):
    """`judge --judge-model /path/to/smol-hf` writes __path__to__smol-hf_*.jsonl: report finds it by either name."""
    d = copy_data(data, tmp_path)
    rename_judge(d, "gpt-4", PATH_JUDGE, "__path__to__smol-hf")
    for judge_model in (PATH_JUDGE, "__path__to__smol-hf", None):
        page = build_report(
            ReportConfig(layout=BenchLayout(d), out=Path("x.html"), judge_model=judge_model, n_bootstrap=0)
        )
        assert f"judge {PATH_JUDGE}, single" in page, judge_model
        assert {r[0] for r in _table_rows(page, "scores")} == {SONNET, "claude-3-opus-20240229", XSS_MODEL}
        assert "Score: 3 / 10" in re.search(r'<details class="question" id="q81">.*?</details>', page, re.S).group(0)
    result = mtbench(
        "report", "--data-dir", str(d), "--out", str(tmp_path / "r.html"), "--judge-model", PATH_JUDGE,
        "--mode", "pairwise-all", "--bootstrap", "0",
    )
    assert result.returncode == 0, result.stderr
    assert f"judge {PATH_JUDGE}, pairwise-all" in (tmp_path / "r.html").read_text()


# ---------------------------------------------------------------------------------------------------
# a real browser, from disk


@pytest.mark.browser
def test_report_in_browser_from_disk_without_network(single_html, tmp_path):
    path = tmp_path / "report.html"
    path.write_text(single_html, encoding="utf-8")
    with chromium() as context:
        page = context.new_page()
        requests, dialogs, errors = [], [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        assert page.locator("#scores tbody tr").count() == 3
        assert page.locator("#scores tbody tr.partial td:first-child").all_text_contents() == [XSS_MODEL]
        assert page.evaluate("() => document.getElementById('radar').naturalWidth") > 0
        page.click("#q81 > summary")
        q81 = page.locator("#q81")
        assert q81.evaluate("(d) => d.open") is True
        text = q81.inner_text()
        assert "<script>window.__xss=1</script>" in text and 'onerror="window.__xss=2"' in text
        assert q81.locator("script, img").count() == 0
        assert page.evaluate("() => window.__xss") is None
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot))
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    assert requests and all(u.startswith(("file:", "data:")) for u in requests), requests
    assert dialogs == [] and errors == [], (dialogs, errors)


# ---------------------------------------------------------------------------------------------------
# end to end: our own judge's files


def test_report_and_view_on_mtbench_judge_output(data_dir, openai_server, tmp_path):
    """`mtbench judge` (against the scripted test server) -> `mtbench report`: our records, failures included."""

    from mtbench.webview.bench_view import load_bench_view

    answers = data_dir / "mt_bench" / "model_answer"
    answers.mkdir(parents=True)
    for m in ("alpaca-13b", "llama-13b"):
        shutil.copy(REFERENCE_RUNS / "model_answer" / f"{m}.jsonl", answers / f"{m}.jsonl")

    # The judge finds no rating in whatever shows llama-13b's answer to question 81 (both of its turns).
    llama_81 = load_answers(answers / "llama-13b.jsonl")[81].turns[0][:60]
    openai_server.responder = lambda body: (
        "I cannot rate <b>this</b>."
        if llama_81 in body["messages"][-1]["content"]
        else "Fine answer. Rating: [[7]]"
    )
    out = mtbench("judge", "--data-dir", data_dir, "--judge-base-url", openai_server.base_url, "--judge-model",
                  "local-judge", "--first-n", "2", "--no-progress",
                  env={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": None})
    assert out.returncode == 0, out.stderr
    page = build_report(ReportConfig(layout=BenchLayout(data_dir), out=tmp_path / "r.html", n_bootstrap=50))
    rows = _table_rows(page, "scores")
    assert [(r[0], r[3], r[5], r[6], r[7]) for r in rows] == [
        ("alpaca-13b", "7.00", "4", "0", "2*"),  # --first-n 2: both rows partial
        ("llama-13b", "7.00", "2", "2", "1*"),  # its question 81 only failed
    ]
    assert _partial_rows(page, "scores") == ["alpaca-13b", "llama-13b"]
    assert "judge local-judge" in page
    assert "Failed judgment: unparseable" in page and "I cannot rate &lt;b&gt;this&lt;/b&gt;." in page
    view = load_bench_view(BenchLayout(data_dir))
    assert list(view.judges) == ["local-judge"]
    turns = view.single_judgments(81, "alpaca-13b", "local-judge")
    assert [(t["status"], t["score"], t["explanation"]["text"]) for t in turns] == [
        ("scored", 7, "Fine answer. Rating: [[7]]")
    ] * 2
    failed = view.single_judgments(81, "llama-13b", "local-judge")
    assert [(t["status"], t["score"]) for t in failed] == [("failed", None)] * 2
    assert all(t["failure"].startswith("unparseable") for t in failed)


@pytest.mark.slow
def test_report_shows_each_samples_score_and_the_noise_columns(single_html, data, tmp_path):
    d = copy_data(data, tmp_path)
    path = judge_three_times(d)
    page = build_report(ReportConfig(layout=BenchLayout(d), out=Path("unused.html"), n_bootstrap=50))
    turn_1 = [j.score for j in load_single_judgments(path) if (j.model, j.question_id, j.turn) == (SONNET, 81, 1)]
    shown = " / ".join(f"{s:g}" for s in turn_1)
    assert f"Scores (3 samples): {shown} (median {sorted(turn_1)[1]:g}) / 10" in page
    assert "<th>noise sd</th>" in page and "<th>samples</th>" in page
    assert "samples)" not in single_html and "noise sd" not in single_html  # one sample: as before
