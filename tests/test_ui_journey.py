"""A newcomer's whole journey in a real browser, on a store started empty: import their own
messy tweets, label them with the teacher (the loopback server), write a few new examples, fit a
noise profile and corrupt (their tweets untouched), embed, score, review with keys, dedupe (their
tweet stays canonical), export, and restart the app as `make run` does: nothing duplicated,
nothing lost."""

import pytest

from helpers import write_jsonl
from teacher_server import TeacherServer
from ui_helpers import retype, running_app, settled

pytestmark = pytest.mark.browser
TASK = "tweet-summary"
MINE = [
    "omg the 42 bus is late AGAIN 😤 #commute", "cant find my keys anywhere lol smh",
    "who else is stuck on the bridge rn", "coffee machine broke. worst monday ever",
    "@metro why is the green line always like this", "ngl the new bakery on elm st slaps",
    "rain rain go away 🙄 forgot my umbrella", "3rd time this wk the ferry is cancelled",
    "lost my cat Milo near Birch Rd, pls RT 🙏", "gym was packed af at 6am?? who are u people",
    "finally finished my taxes. never again", "the library wifi is so slow i could cry",
    "power out on our whole street since 2am", "farmers market sat!! best strawberries",
    "traffic on the ring road is insane rn", "my phone died mid call w my mum lol",
    "anyone know a good plumber in oakfield", "concert tix sold out in 4 min. bots.",
    "snow day!!! schools closed 🎉", "new bike lane on main st is actually nice",
    "waited 40 min for a pizza that never came", "why do printers hate me specifically",
]
# the teacher's new example that says what the user's first tweet says (an exact duplicate
# once case, punctuation and spacing are ignored)
COPY = "OMG, the 42 bus is late AGAIN!!! 😤 #commute"


class CopyingTeacher(TeacherServer):
    """The loopback teacher, whose first new input repeats the user's first tweet."""

    copied = False

    def _answer(self, req):
        answer = super()._answer(req)
        if isinstance(answer, dict) and "input" in answer and not self.copied:
            self.copied = True
            return {"input": COPY}
        return answer


def snapshot(studio) -> list[tuple]:
    return [(r["id"], r["input"], r["output"], r["status"], r["source"], r["duplicate_of"])
            for r in studio.list(limit=100_000)["rows"]]


def test_a_newcomers_journey_from_an_empty_store_to_an_export_and_a_restart(db, minilm, page,
                                                                            tmp_path):
    from playwright.sync_api import expect

    from studio import Studio
    from studio.cli import main
    from ui_helpers import upload

    own = write_jsonl(tmp_path / "my_tweets.jsonl",
                      [{"text": t, "posted": f"2026-11-{i + 1:02d}"} for i, t in enumerate(MINE)])
    folder = tmp_path / "exported"
    header = page.locator("#studio-header")
    with Studio.open(db) as s, CopyingTeacher(latency=0.01) as srv:
        s.use_encoder(minilm)
        with running_app(s) as url:
            page.goto(url)
            expect(header).to_contain_text("0 examples")  # started empty
            settled(page)

            # 1. their own file
            page.get_by_text("Import a file").click()
            upload(page, own)
            page.locator("#btn-import").click()
            result = page.locator("#import-result")
            expect(result).to_contain_text("Imported 22 rows into task tweet-summary from "
                                           "my_tweets.jsonl")
            expect(result).to_contain_text("22 messy")
            expect(result).to_contain_text("columns not used: posted")
            mine = {r["input"]: r["id"] for r in s.list(task=TASK, limit=100)["rows"]}
            assert set(mine) == set(MINE)

            # 2. the teacher labels them, then writes six new examples
            page.get_by_role("tab", name="Generate").click()
            settled(page)
            for box, value in (("#gen-urls textarea", srv.url),
                               ("#gen-model textarea", "teacher-test")):
                retype(page.locator(box), page.locator(box).input_value(), value)
            page.get_by_role("radio", name="outputs").check()
            expect(page.locator("#gen-plan")).to_contain_text("22 input-only rows")
            page.locator("#btn-generate").click()
            status = page.locator("#gen-status")
            expect(status).to_contain_text("Job 1 · completed")
            expect(status).to_contain_text("22 of 22 done · 0 failed")
            page.get_by_role("radio", name="inputs").check()
            page.locator("#gen-count input").fill("6")
            page.locator("#btn-generate").click()
            expect(status).to_contain_text("Job 2 · completed")
            expect(status).to_contain_text("6 of 6 done · 0 failed")
            expect(header).to_contain_text("28 examples")

            # 3. a profile fitted on their tweets, then corrupt: only the clean rows
            page.get_by_role("tab", name="Corrupt").click()
            page.get_by_text("Fit a profile on real messy texts").click()
            page.locator("#btn-fit").click()
            expect(page.locator("#cor-fit-note")).to_contain_text("22 texts")
            page.locator("#btn-corrupt").click()
            expect(page.locator("#cor-result")).to_contain_text("This stores")
            page.locator("#btn-cor-confirm").click()
            expect(page.locator("#cor-result")).to_contain_text("Stored")
            corrupted = s.list(task=TASK, source="corrupted", limit=1000)["rows"]
            assert corrupted and not {r["parent_id"] for r in corrupted} & set(mine.values())
            for text, i in mine.items():  # their tweets: untouched, labelled, still messy
                row = s.get(i)
                assert (row["input"], row["source"], row["input_style"]) == (text, "imported",
                                                                             "messy")
                assert row["output"]

            # 4. embed and score
            page.get_by_role("tab", name="Curate").click()
            page.locator("#btn-embed").click()
            expect(page.locator("#cur-embed-note")).to_contain_text("Embedded")
            page.locator("#btn-score").click()
            expect(page.locator("#score-note")).to_contain_text("Scored")

            # 5. review with keys: the teacher's copy of their tweet is approved
            copy = s.list(task=TASK, text="again!!!", source="teacher", limit=5)["rows"]
            assert len(copy) == 1
            page.get_by_role("tab", name="Review").click()
            page.locator("#review-text textarea").fill("again!!!")
            page.locator("#review-text textarea").press("Enter")
            expect(page.locator("#review-badge")).to_contain_text(f"#{copy[0]['id']} · pending")
            page.locator("#review-badge").first.click()  # out of the text box: keys act
            settled(page)
            page.keyboard.press("a")
            # approved, the queue of pending rows moves on
            expect(page.locator("#review-badge")).not_to_contain_text(f"#{copy[0]['id']} · ")
            assert s.get(copy[0]["id"])["status"] == "approved"

            # 6. dedupe: their tweet stays the canonical row, over the approved copy
            page.get_by_role("tab", name="Curate").click()
            page.locator("#btn-dedupe").click()
            expect(page.locator("#dedupe-note")).to_contain_text("Marked")
            assert s.get(copy[0]["id"])["duplicate_of"] == mine[MINE[0]]
            assert s.get(mine[MINE[0]])["duplicate_of"] is None

            # 7. review the rest: a few with the key, then every pending row of the queue at once
            page.get_by_role("tab", name="Review").click()
            text = page.locator("#review-text textarea")
            text.fill("")
            text.press("Enter")
            badge = page.locator("#review-badge")
            expect(badge).to_contain_text(f"#{mine[MINE[0]]} · pending")
            page.locator("#review-badge").first.click()
            for k in range(1, 4):
                settled(page)  # a key pressed while the last one's event runs is dropped
                page.keyboard.press("a")
                expect(badge).to_contain_text(f"#{mine[MINE[k]]} · pending")
            page.get_by_text("Bulk: act on everything in this queue").click()
            page.locator("#btn-bulk-approve").click()
            expect(page.locator("#bulk-confirm-msg")).to_contain_text("Approve")
            page.locator("#btn-bulk-confirm").click()
            expect(badge).to_contain_text("The queue is empty")

            # 8. export
            page.get_by_role("tab", name="Export").click()
            settled(page)  # the tab's refresh has drawn its fields: what is typed now stays
            retype(page.locator("#export-dir textarea"), f"exports/{TASK}", str(folder))
            page.locator("#btn-export-preview").click()
            expect(page.locator("#export-counts")).to_contain_text("rows leave")
            page.locator("#btn-export").click()
            expect(page.locator("#export-result")).to_contain_text("Wrote")
            expect(page.locator("#export-result")).to_contain_text(str(folder))
            assert (folder / "README.md").is_file()
        before = snapshot(s)
        stats = s.stats()

    # 9. restart as `make run` does on a store that exists (init without the samples, then the
    # app): nothing duplicated, nothing lost
    assert main(["--db", str(db), "init"]) == 0
    with Studio.open(db) as s:
        with running_app(s) as url:
            page.goto(url)
            expect(header).to_contain_text(f"{stats['total']} examples")
        assert snapshot(s) == before
        # and importing their file again changes nothing either
        assert s.import_file(own, task=TASK)["imported"] == 0
        assert snapshot(s) == before
