"""Captures in two threads at once, finishing in the order that broke redirect_stdout."""
import sys
import threading

from mmei.platform.captured_output import captured_output


def test_overlapping_captures_keep_their_own_output_and_give_the_console_back(capsys):
    console = sys.stdout
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    said = {}

    def first() -> None:
        with captured_output() as buffer:
            print("first's chatter")
            first_in.set()
            second_in.wait(10)
        said["first"] = buffer.getvalue()
        first_out.set()

    def second() -> None:
        first_in.wait(10)
        with captured_output() as buffer:
            second_in.set()
            print("second's chatter", file=sys.stderr)  # tqdm writes to stderr
            first_out.wait(10)  # the first capture ends while this one is open
        said["second"] = buffer.getvalue()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    second_in.wait(10)
    print("the main thread's line")  # while both capture: still the console
    for thread in threads:
        thread.join(10)
    print("after both")
    assert said == {"first": "first's chatter\n", "second": "second's chatter\n"}
    assert sys.stdout is console  # given back, not left pointing at a buffer
    out = capsys.readouterr()
    assert out.out == "the main thread's line\nafter both\n" and out.err == ""
