"""a2m's SIGINT / SIGTERM handlers belong to the command's own process, not to its forked workers."""

import multiprocessing
import signal

from a2m_cli.main import _Interrupts


def _send_handler_name(queue) -> None:
    queue.put(str(signal.getsignal(signal.SIGTERM)))


def test_forked_workers_get_the_handlers_from_before_the_command():
    """A Python handler runs only between bytecodes: a pool worker that inherited it and sat blocked
    on its queue's lock could not die of the pool's SIGTERM, and `with Pool()` hung on exit."""
    before = signal.getsignal(signal.SIGTERM)
    context = multiprocessing.get_context("fork")
    with _Interrupts():
        assert signal.getsignal(signal.SIGTERM) != before  # the command's own handler
        queue = context.Queue()
        child = context.Process(target=_send_handler_name, args=(queue,))
        child.start()
        inherited = queue.get(timeout=60)
        child.join(timeout=60)
    assert inherited == str(before)
    assert signal.getsignal(signal.SIGTERM) == before
