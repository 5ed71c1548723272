"""The line past the cap: first come first served, places move up as people are let in or leave, and a let-in
visitor holds their slot until their kernel is counted."""

from __future__ import annotations

from analytics.web.queue import DEFAULT_TURN_SECONDS, STALE_SECONDS, VisitorQueue
from analytics.words import about_seconds, ordinal


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_with_free_slots_and_nobody_waiting_everyone_is_let_in() -> None:
    queue = VisitorQueue(Clock())
    first = queue.ask(None, in_use=0, cap=2)
    queue.settled(first.ticket)
    assert first.admitted and queue.ask(None, in_use=1, cap=2).admitted


def test_a_let_in_visitor_holds_the_slot_until_their_kernel_is_counted() -> None:
    queue = VisitorQueue(Clock())
    first = queue.ask(None, in_use=0, cap=1)
    assert first.admitted
    second = queue.ask(None, in_use=0, cap=1)  # the first one's kernel is still starting: not counted yet
    assert not second.admitted and second.position == 1
    queue.settled(first.ticket)
    assert not queue.ask(second.ticket, in_use=1, cap=1).admitted  # now counted as in use
    assert queue.ask(second.ticket, in_use=0, cap=1).admitted  # it ended


def test_places_are_kept_in_arrival_order_and_move_up() -> None:
    clock = Clock()
    queue = VisitorQueue(clock)
    tickets = [queue.ask(None, in_use=4, cap=4).ticket for _ in range(3)]
    assert [queue.ask(ticket, in_use=4, cap=4).position for ticket in tickets] == [1, 2, 3]
    assert not queue.ask(tickets[1], in_use=2, cap=4).admitted  # the second goes in after the first, never before
    assert queue.ask(tickets[0], in_use=2, cap=4).admitted
    assert queue.ask(tickets[1], in_use=4, cap=4).position == 1
    assert queue.ask(None, in_use=3, cap=4).position == 3  # a newcomer queues behind, even with a slot free


def test_a_closed_tab_leaves_the_line_and_the_next_one_moves_up() -> None:
    clock = Clock()
    queue = VisitorQueue(clock)
    gone, staying = (queue.ask(None, in_use=1, cap=1).ticket for _ in range(2))
    assert queue.ask(staying, in_use=1, cap=1).position == 2
    clock.now += STALE_SECONDS / 2
    queue.ask(staying, in_use=1, cap=1)
    clock.now += STALE_SECONDS / 2 + 1  # `gone` has not asked for longer than STALE_SECONDS
    assert queue.ask(staying, in_use=1, cap=1).position == 1
    assert queue.waiting() == 1


def test_an_unknown_or_forged_ticket_joins_the_back() -> None:
    queue = VisitorQueue(Clock())
    queue.ask(None, in_use=1, cap=1)
    forged = queue.ask("not-a-ticket", in_use=1, cap=1)
    assert not forged.admitted and forged.position == 2 and forged.ticket != "not-a-ticket"


def test_the_wait_is_the_place_times_the_recent_gap_between_turns() -> None:
    clock = Clock()
    queue = VisitorQueue(clock)
    assert queue.wait_seconds(3) == 3 * DEFAULT_TURN_SECONDS
    tickets = [queue.ask(None, in_use=1, cap=1).ticket for _ in range(4)]
    for ticket in tickets[:3]:
        clock.now += 6
        for other in tickets:
            queue.ask(other, in_use=1, cap=1)  # everyone's page keeps asking
        admitted = queue.ask(ticket, in_use=0, cap=1)
        assert admitted.admitted
        queue.settled(admitted.ticket)
    assert queue.wait_seconds(2) == 12


def test_places_and_waits_read_as_a_person_says_them() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st"]
    assert [about_seconds(s) for s in (2, 18, 20, 59, 60, 150)] == [
        "about 5 s", "about 20 s", "about 20 s", "about 60 s", "about 1 min", "about 2 min"]
