"""`mtbench browse`: the real server as a subprocess, its JSON endpoints over real HTTP, and a real
headless Chromium clicking through the page (skipped, with the reason, where Chromium is absent)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from mtbench.core.bench import BenchLayout
from mtbench.core.record_files import load_answers, load_pair_judgments, load_single_judgments
from mtbench.webview.bench_view import load_bench_view
from tests.browser import (
    FAILED_ANSWER_REASON,
    PATH_JUDGE,
    XSS_MODEL,
    XSS_TURNS,
    BrowseServer,
    break_answer_file,
    chromium,
    copy_data,
    judge_three_times,
    make_browse_data,
    make_data_dir,
    rename_judge,
    require_browser,
    settle,
)
from tests.cli import mtbench
from tests.conftest import MT_BENCH_DATA, REFERENCE_RUNS

SONNET = "claude-3-5-sonnet-20240620"
OPUS = "claude-3-opus-20240229"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_browse_data(make_data_dir(tmp_path_factory.mktemp("browse"), MT_BENCH_DATA), REFERENCE_RUNS)


@pytest.fixture(scope="module")
def server(data):
    with BrowseServer("--data-dir", str(data)) as srv:
        yield srv


def get(server, path: str, params: dict | None = None, headers: dict | None = None):
    url = server.url.rstrip("/") + path + ("?" + urllib.parse.urlencode(params) if params else "")
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def get_json(server, path: str, **params):
    status, _, body = get(server, path, params)
    assert status == 200, body
    return json.loads(body)


def bench(data: Path) -> Path:
    return data / "mt_bench"


# ---------------------------------------------------------------------------------------------------
# endpoints


@pytest.mark.slow
def test_server_binds_loopback_and_prints_url(server):
    assert server.url.startswith("http://127.0.0.1:")


def test_meta_lists_judges_models_and_questions(server):
    meta = get_json(server, "/api/meta")
    assert [j["name"] for j in meta["judges"]] == ["gpt-4"]
    assert meta["judges"][0]["single"] and meta["judges"][0]["pair"]
    assert set(meta["models"]) == {SONNET, OPUS, "phi-3", "phi-3-dpo", XSS_MODEL}
    cats = {c["name"]: [q["id"] for q in c["questions"]] for c in meta["categories"]}
    assert list(cats)[:2] == ["writing", "roleplay"] and cats["math"] == list(range(111, 121))


def test_single_view_is_the_files_text_and_scores(server, data):
    answer = load_answers(bench(data) / "model_answer" / f"{SONNET}.jsonl")[81]
    judged = {
        j.turn: j
        for j in load_single_judgments(bench(data) / "model_judgment" / "gpt-4_single.jsonl")
        if j.model == SONNET and j.question_id == 81
    }
    view = get_json(server, "/api/single", id=81, model=SONNET, judge="gpt-4")
    assert [t["text"] for t in view["answer"]["turns"]] == list(answer.turns)
    assert view["answer"]["failure"] is None
    for jv in view["judgments"]:
        assert jv["status"] == "scored"
        assert jv["score"] == judged[jv["turn"]].score
        assert jv["explanation"]["text"] == judged[jv["turn"]].judgment
    assert view["question"]["category"] == "writing" and view["question"]["reference"] is None


def test_reference_answer_and_hints_for_a_math_question(server):
    q = get_json(server, "/api/question", id=111, judge="gpt-4")
    ref = load_answers(MT_BENCH_DATA / "reference_answer" / "gpt-4.jsonl")[111]
    assert q["reference"]["set"] == "gpt-4" and q["reference"]["judged_with"] is True
    assert [t["text"] for t in q["reference"]["turns"]] == list(ref.turns)
    assert q["hints"], "question 111 has human reference hints in question.jsonl"


def test_failures_are_shown_with_reasons_never_as_scores(server):
    failed_answer = get_json(server, "/api/single", id=82, model=XSS_MODEL, judge="gpt-4")
    assert failed_answer["answer"]["failure"] == FAILED_ANSWER_REASON
    assert all(j["status"] == "missing" for j in failed_answer["judgments"])
    view = get_json(server, "/api/single", id=81, model=XSS_MODEL, judge="gpt-4")
    t1, t2 = view["judgments"]
    assert (t1["status"], t1["score"]) == ("scored", 3)
    assert (t2["status"], t2["score"], t2["failure"]) == ("failed", None, "unparseable")


def test_untrusted_text_is_escaped_in_every_html_field(server):
    view = get_json(server, "/api/single", id=81, model=XSS_MODEL, judge="gpt-4")
    htmls = [t["html"] for t in view["answer"]["turns"]] + [
        j["explanation"]["html"] for j in view["judgments"]
    ]
    assert [t["text"] for t in view["answer"]["turns"]] == list(XSS_TURNS)
    for h in htmls:
        assert "<script" not in h and "<img" not in h and "<b>" not in h and "</div>" not in h
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in htmls[0]
    assert "<strong>bold</strong>" in htmls[0] and "<code>code</code>" in htmls[0]


def _fastchat_verdict(g1: str, g2: str, m1: str, m2: str) -> str:
    # FastChat show_result: tie if game 1 is a tie or the games disagree.
    if g1 == "tie" or g1 != g2:
        return "tie"
    return {"model_1": m1, "model_2": m2}[g1]


def test_pair_view_real_matches_follow_fastchat_rule(server, data):
    matches = [
        j
        for j in load_pair_judgments(bench(data) / "model_judgment" / "gpt-4_pair.jsonl")
        if j.question_id == 81 and {j.model_1, j.model_2} == {"phi-3", "phi-3-dpo"}
    ]
    assert matches
    for a, b in (("phi-3", "phi-3-dpo"), ("phi-3-dpo", "phi-3")):  # either order finds the stored match
        view = get_json(server, "/api/pair", id=81, model_a=a, model_b=b, judge="gpt-4")
        assert [ans["model"] for ans in view["answers"]] == [a, b]
        for j in matches:
            m = view["matches"][j.turn - 1]
            assert m["verdict"] == _fastchat_verdict(j.g1_winner, j.g2_winner, j.model_1, j.model_2)
            assert m["inconsistent"] == (j.g1_winner != j.g2_winner)
            assert [g["explanation"]["text"] for g in m["games"]] == [j.g1_judgment, j.g2_judgment]


def test_pair_view_decided_and_inconsistent(server):
    view = get_json(server, "/api/pair", id=81, model_a=XSS_MODEL, model_b=SONNET, judge="gpt-4")
    t1, t2 = view["matches"]
    assert (t1["verdict"], t1["inconsistent"]) == (SONNET, False)
    assert (t2["verdict"], t2["inconsistent"]) == ("tie", True)
    assert [g["winner"] for g in t2["games"]] == [SONNET, XSS_MODEL]
    assert "<script" not in t2["games"][0]["explanation"]["html"]


def test_leaderboard_is_show_results(server, data):
    from mtbench.show_result import ShowConfig, render, show

    board = get_json(server, "/api/leaderboard", judge="gpt-4", mode="single")
    expected = json.loads(
        render(
            show(
                ShowConfig(
                    judgment_file=bench(data) / "model_judgment" / "gpt-4_single.jsonl",
                    question_file=bench(data) / "question.jsonl",
                )
            ),
            "json",
        )
    )
    assert board["models"] == expected["models"]
    coverage = [(r["n_questions"], r["partial"]) for r in board["models"]]  # show marks partial rows
    assert coverage == [(1, True) if r["model"] == XSS_MODEL else (80, False) for r in board["models"]]
    assert board["bench_questions"] == 80 and any(n.startswith("partial coverage") for n in board["notes"])
    assert board["by_category"] == expected["by_category"]
    xss = next(r for r in board["models"] if r["model"] == XSS_MODEL)
    assert (xss["n_valid"], xss["n_failed"]) == (1, 1)
    pair = get_json(server, "/api/leaderboard", judge="gpt-4", mode="pairwise-all")
    assert {r["model"] for r in pair["models"]} == {"phi-3", "phi-3-dpo", SONNET, XSS_MODEL}


@pytest.mark.slow
def test_radar_png_and_security_headers(server):
    status, headers, body = get(server, "/radar.png", {"judge": "gpt-4"})
    assert status == 200 and headers["Content-Type"] == "image/png" and body[:8] == b"\x89PNG\r\n\x1a\n"
    status, headers, body = get(server, "/")
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert b'<script src="/static/app.js"' in body


def test_foreign_host_header_is_refused(server):
    # A DNS-rebinding page would send its own host name.
    status, _, _ = get(server, "/api/meta", headers={"Host": "attacker.example:80"})
    assert status == 421


@pytest.mark.parametrize(
    "path, params, message",
    [
        ("/api/single", {"id": "x", "model": SONNET}, "must be an integer"),
        ("/api/single", {"id": 9999, "model": SONNET}, "no question 9999"),
        ("/api/single", {"id": 81, "model": SONNET, "judge": "nope"}, "unknown judge"),
        ("/api/leaderboard", {"judge": "gpt-4", "mode": "bogus"}, "mode must be one of"),
    ],
)
def test_bad_requests_are_json_errors(server, path, params, message):
    status, _, body = get(server, path, params)
    assert status == 400 and message in json.loads(body)["error"]


def test_page_follows_files_written_after_start(server, data):
    path = bench(data) / "model_answer" / f"{XSS_MODEL}.jsonl"
    before = get_json(server, "/api/single", id=83, model=XSS_MODEL)
    assert before["answer"]["failure"].startswith("no answer to question 83")
    original = path.read_text()
    try:
        with open(path, "a") as f:
            f.write(
                json.dumps({"question_id": 83, "model_id": XSS_MODEL, "choices": [{"turns": ["late", "x"]}]})
                + "\n"
            )
        after = get_json(server, "/api/single", id=83, model=XSS_MODEL)
        assert [t["text"] for t in after["answer"]["turns"]] == ["late", "x"]
    finally:
        path.write_text(original)


# ---------------------------------------------------------------------------------------------------
# CLI errors


def test_unknown_judge_is_one_line_exit_2(data):
    out = mtbench("browse", "--data-dir", str(data), "--judge-model", "gpt-5", "--port", "0")
    assert out.returncode == 2, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "gpt-5_single.jsonl" in out.stderr
    assert "judges found: gpt-4" in out.stderr


def test_missing_question_file_is_one_line_exit_2(tmp_path):
    out = mtbench("browse", "--data-dir", str(tmp_path), "--port", "0")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "no question file" in out.stderr and "Traceback" not in out.stderr


def test_port_in_use_is_one_line_exit_2(data, server):
    port = server.url.rsplit(":", 1)[1].strip("/")
    out = mtbench("browse", "--data-dir", str(data), "--port", port)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert f"127.0.0.1:{port}" in out.stderr


def test_bad_port_flag_is_usage_error():
    out = mtbench("browse", "--port", "70000")
    assert out.returncode == 2 and "--port" in out.stderr


# ---------------------------------------------------------------------------------------------------
# a real browser


@pytest.mark.browser
def test_browser_single_pair_leaderboard_and_no_xss(server, data, tmp_path):
    require_browser()
    sonnet = load_answers(bench(data) / "model_answer" / f"{SONNET}.jsonl")[81]
    matches = {
        j.turn: j
        for j in load_pair_judgments(bench(data) / "model_judgment" / "gpt-4_pair.jsonl")
        if j.question_id == 81 and (j.model_1, j.model_2) == ("phi-3", "phi-3-dpo")
    }
    with chromium() as context:
        page = context.new_page()
        dialogs, errors = [], []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: errors.append(str(e)))
        # A CSP violation or a failed request shows up as a console error.
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(server.url)
        page.wait_for_selector("body[data-ready]")

        # Single tab: pick category, question, model; the hostile answer is text, not markup.
        settle(page, lambda: page.select_option("#single-category", "writing"))
        settle(page, lambda: page.select_option("#single-question", "81"))
        settle(page, lambda: page.select_option("#single-model", XSS_MODEL))
        view = page.locator("#single-view")
        assert page.evaluate("() => window.__xss") is None
        assert view.locator("img, script, b").count() == 0
        text = view.inner_text()
        assert "<script>window.__xss=1</script>" in text and 'onerror="window.__xss=2"' in text
        assert "Score: 3 / 10" in text and "Failed judgment: unparseable" in text

        # Raw text mode shows exactly the file's text.
        settle(page, lambda: page.select_option("#single-model", SONNET))
        settle(page, lambda: page.uncheck("#markdown"))
        for turn in (1, 2):
            body = page.locator(f'#single-view .answer[data-turn="{turn}"] pre.raw')
            assert body.text_content() == sonnet.turns[turn - 1]
        settle(page, lambda: page.check("#markdown"))

        # Pairwise tab: two real models side by side with both games and the combined verdict.
        settle(page, lambda: page.click("#tab-pair"))
        settle(page, lambda: page.select_option("#pair-question", "81"))
        settle(page, lambda: page.select_option("#pair-model-a", "phi-3"))
        settle(page, lambda: page.select_option("#pair-model-b", "phi-3-dpo"))
        for turn, j in matches.items():
            verdict = page.locator(f'#pair-view .judge[data-turn="{turn}"] .verdict').inner_text()
            expected = _fastchat_verdict(j.g1_winner, j.g2_winner, j.model_1, j.model_2)
            assert verdict == ("Winner: " + expected if expected != "tie" else verdict)
            if expected == "tie":
                assert verdict.startswith("Tie") and ("inconsistent" in verdict) == (
                    j.g1_winner != j.g2_winner
                )
        shot = tmp_path / "pair.png"
        page.screenshot(path=str(shot), full_page=False)
        png = shot.read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000

        settle(page, lambda: page.select_option("#pair-model-a", XSS_MODEL))
        settle(page, lambda: page.select_option("#pair-model-b", SONNET))
        verdicts = page.locator("#pair-view .verdict").all_inner_texts()
        assert verdicts == [f"Winner: {SONNET}", "Tie (inconsistent: the two games disagree)"]
        assert page.locator("#pair-view img, #pair-view script").count() == 0

        # Leaderboard: show's table and the radar image.
        settle(page, lambda: page.click("#tab-board"))
        page.wait_for_function(
            "() => { const i = document.getElementById('radar'); return i && i.complete; }"
        )
        assert page.evaluate("() => document.getElementById('radar').naturalWidth") > 0
        rows = page.locator("#scores tbody tr td:first-child").all_inner_texts()
        assert set(rows) == {SONNET, OPUS, XSS_MODEL}
        assert page.locator("#scores tbody tr.partial td:first-child").all_text_contents() == [XSS_MODEL]
        assert page.locator("#scores tbody tr.partial td:last-child").inner_text() == "1*"
        assert "questions (of 80)" in page.locator("#scores thead").inner_text()
        page.screenshot(path=str(tmp_path / "board.png"), full_page=True)

        assert page.evaluate("() => window.__xss") is None
        assert dialogs == [] and errors == []


def test_reference_is_the_set_the_judgment_records(tmp_path):
    d = make_data_dir(tmp_path, MT_BENCH_DATA)
    judged = d / "mt_bench" / "model_judgment"
    judged.mkdir()
    lines = [
        {
            "question_id": qid,
            "model": "m",
            "judge": ["our-judge", "single-math-v1"],
            "user_prompt": "p",
            "judgment": "[[5]]",
            "score": 5,
            "turn": 1,
            **({"reference": ref} if ref else {}),
        }
        for qid, ref in ((111, "gpt-4-0125-preview"), (112, None), (113, "missing-set"))
    ]
    (judged / "our-judge_single.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    view = load_bench_view(BenchLayout(d))
    recorded = view.question_view(111, "our-judge")["reference"]
    corrected = load_answers(MT_BENCH_DATA / "reference_answer" / "gpt-4-0125-preview.jsonl")[111]
    assert recorded["set"] == "gpt-4-0125-preview" and recorded["why"] == "recorded in the judgment"
    assert [t["text"] for t in recorded["turns"]] == list(corrected.turns)
    default = view.question_view(112, "our-judge")["reference"]
    assert (default["set"], default["why"]) == ("gpt-4", "the bench's default set")
    missing = view.question_view(113, "our-judge")["reference"]
    assert missing["turns"] == [] and "missing-set.jsonl is missing" in missing["failure"]


@pytest.mark.browser
def test_browser_link_reopens_the_same_view(server):
    with chromium() as context:
        page = context.new_page()
        page.goto(server.url + f"#tab=pair&q=111&a=phi-3-dpo&b={XSS_MODEL}")
        page.wait_for_selector("body[data-ready]")
        assert page.locator("#pane-pair").is_visible() and not page.locator("#pane-single").is_visible()
        assert page.input_value("#pair-category") == "math" and page.input_value("#pair-question") == "111"
        assert [
            a.get_attribute("data-model") for a in page.locator('#pair-view .answer[data-turn="1"]').all()
        ] == ["phi-3-dpo", XSS_MODEL]
        assert page.locator("#pair-view .block.reference").count() == 2  # the gpt-4 reference and the hints
        settle(page, lambda: page.select_option("#pair-question", "112"))
        assert "q=112" in page.evaluate("() => location.hash")


# ---------------------------------------------------------------------------------------------------
# a folder as runs leave it: a broken answer file, a judge that only failed, a judge named like a path


@pytest.mark.slow
def test_broken_files_are_skipped_with_a_warning(data, tmp_path):
    d = copy_data(data, tmp_path)
    broken = break_answer_file(d, XSS_MODEL)
    judged = bench(d) / "model_judgment"
    lines = (judged / "gpt-4_single.jsonl").read_text().splitlines(keepends=True)
    other = judged / "other-judge_single.jsonl"  # another judge's file, torn in the middle
    other.write_text(lines[0].replace('"gpt-4"', '"other-judge"') + '{"question_id": 8\n' + lines[1])
    with BrowseServer("--data-dir", str(d)) as srv:
        assert get_json(srv, "/api/single", id=81, model=SONNET, judge="gpt-4")["answer"]["turns"]
        view = get_json(srv, "/api/single", id=81, model=XSS_MODEL, judge="gpt-4")
        assert view["answer"]["turns"] == []
        assert view["answer"]["failure"].startswith(f"could not read the answer file: {broken}:2: not valid JSON")
        assert view["judgments"][0]["status"] == "scored"  # its judgments are still shown
        judges = {j["name"]: (j["single"], j["valid"]) for j in get_json(srv, "/api/meta")["judges"]}
        assert judges["other-judge"] == (False, 0) and judges["gpt-4"][0] is True
        log = srv.log().splitlines()
    warnings = [line for line in log if str(broken) in line]
    assert len(warnings) == 1 and f"{broken}:2: not valid JSON" in warnings[0] and "skipped" in warnings[0]
    assert [line for line in log if f"{other}:2: not valid JSON" in line and "skipped" in line]
    out = mtbench("browse", "--data-dir", str(d), "--judge-model", "other-judge", "--port", "0")
    warning, error = out.stderr.strip().splitlines()  # the answer file's warning, then the error
    assert out.returncode == 2 and str(broken) in warning  # the judge it names is read strictly
    assert error.startswith(f"mtbench browse: error: {other}:2: not valid JSON (Expecting ',' delimiter")


def _only_failures(data_dir: Path, judge: str) -> None:
    judged = data_dir / "mt_bench" / "model_judgment"
    lines = [json.loads(x) for x in (judged / "gpt-4_single.jsonl").read_text().splitlines()[:4]]
    for obj in lines:
        obj.update(judge=[judge, obj["judge"][1]], score=-1, judgment="connection failed")
    (judged / f"{judge}_single.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


@pytest.mark.browser
def test_page_opens_on_a_judge_with_valid_judgments(data, tmp_path):
    d = copy_data(data, tmp_path)
    _only_failures(d, "aaa-judge")  # sorts before gpt-4
    meta = load_bench_view(BenchLayout(d)).meta()
    assert [(j["name"], j["valid"] > 0) for j in meta["judges"]] == [("aaa-judge", False), ("gpt-4", True)]
    assert meta["default_judge"] == "gpt-4"
    with BrowseServer("--data-dir", str(d)) as srv, chromium() as context:
        page = context.new_page()
        page.goto(srv.url)
        page.wait_for_selector("body[data-ready]")
        assert page.input_value("#judge") == "gpt-4"
        assert page.locator('#judge option[value="aaa-judge"]').inner_text() == "aaa-judge (no valid judgments)"
    rename_judge(d, "gpt-4", "zzz-judge", "zzz-judge")  # no gpt-4: the first judge that has valid judgments
    assert load_bench_view(BenchLayout(d)).meta()["default_judge"] == "zzz-judge"


@pytest.mark.slow
def test_judge_named_like_a_path(data, tmp_path):
    """`judge --judge-model /path/to/smol-hf` writes __path__to__smol-hf_*.jsonl: browse shows the judge's name."""
    d = copy_data(data, tmp_path)
    rename_judge(d, "gpt-4", PATH_JUDGE, "__path__to__smol-hf")
    for flags in ((), ("--judge-model", PATH_JUDGE), ("--judge-model", "__path__to__smol-hf")):
        with BrowseServer("--data-dir", str(d), *flags) as srv:
            meta = get_json(srv, "/api/meta")
            assert [j["name"] for j in meta["judges"]] == [PATH_JUDGE] and meta["default_judge"] == PATH_JUDGE
            view = get_json(srv, "/api/single", id=81, model=XSS_MODEL, judge=PATH_JUDGE)
            assert [j["status"] for j in view["judgments"]] == ["scored", "failed"]
            board = get_json(srv, "/api/leaderboard", judge=PATH_JUDGE, mode="pairwise-all")
            assert {r["model"] for r in board["models"]} == {"phi-3", "phi-3-dpo", SONNET, XSS_MODEL}
            status, _, png = get(srv, "/radar.png", {"judge": PATH_JUDGE})
            assert status == 200 and png[:4] == b"\x89PNG"


def test_judgments_are_deduped_by_record_key(data, tmp_path):
    """A rerun that appended the same matches again: the view keeps one per key, the last one."""
    d = copy_data(data, tmp_path)
    pair_file = bench(d) / "model_judgment" / "gpt-4_pair.jsonl"
    lines = pair_file.read_text().splitlines(keepends=True)
    again = json.loads(lines[0])
    again["g1_winner"] = again["g2_winner"] = "tie"
    pair_file.write_text("".join(lines) + lines[1] + json.dumps(again) + "\n")
    view = load_bench_view(BenchLayout(d))
    assert len(view.pair["gpt-4"]) == len(lines)
    first = load_pair_judgments(pair_file)[0]
    turn = view.pair_matches(first.question_id, first.model_1, first.model_2, "gpt-4")[first.turn - 1]
    assert turn["verdict"] == "tie" and turn["inconsistent"] is False


@pytest.mark.slow
def test_repeated_judging_shows_every_sample_and_the_noise_columns(data, tmp_path):
    d = copy_data(data, tmp_path)
    path = judge_three_times(d)
    scores = {
        (j.turn, j.sample): j.score
        for j in load_single_judgments(path)
        if j.model == SONNET and j.question_id == 81
    }
    with BrowseServer("--data-dir", str(d)) as srv:
        view = get_json(srv, "/api/single", id=81, model=SONNET, judge="gpt-4")
        board = get_json(srv, "/api/leaderboard", judge="gpt-4", mode="single")
    for jv in view["judgments"]:
        samples = [scores[(jv["turn"], i)] for i in range(3)]
        assert jv["samples"] == samples
        shown = " / ".join(f"{s:g}" for s in samples)
        assert jv["spread"] == f"{shown} (median {sorted(samples)[1]:g})"
    assert board["samples"] == 3
    assert all(r["samples"] == 3 and r["noise_sd"] > 0 for r in board["models"] if r["n_valid"])
    plain = get_json_from_data(data)  # a one-sample file: no sample fields, as before
    assert all("samples" not in jv and "spread" not in jv for jv in plain["judgments"])


def get_json_from_data(data: Path) -> dict:
    return load_bench_view(BenchLayout(data)).single_view(81, SONNET, "gpt-4")
