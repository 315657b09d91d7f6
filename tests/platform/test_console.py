"""Progress lines: redrawn in a terminal, plain and rare in a pipe."""
import io

from mmei.platform.console import ProgressLine, duration


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_in_a_pipe_lines_are_plain_and_throttled():
    out = io.StringIO()
    bar = ProgressLine("train mmei", total=100, stream=out, every_s=3600)
    for done in range(1, 101):
        bar.update(done, f"loss {1 / done:.3f}")
    bar.message("epoch 1/1 done")
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("train mmei [") and "1/100" in lines[0] and "ETA" in lines[0]
    assert lines[1] == "epoch 1/1 done" and len(lines) == 2  # throttled: no line per update
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_in_a_terminal_the_line_is_redrawn_and_messages_print_above_it():
    out = Terminal()
    bar = ProgressLine("prepare", total=4, stream=out, indent="   ")
    bar.update(1)
    bar.update(2)
    bar.message("halfway")
    bar.update(4)
    bar.close()
    text = out.getvalue()
    assert text.count("\r") >= 3 and "\r   halfway\n" in text and "   prepare [" in text and "4/4" in text


def test_durations_read_like_people_write_them():
    assert [duration(s) for s in (4.4, 75, 3725)] == ["4s", "1m15s", "1h02m"]
