"""The login check behind QA_AUTH: failed logins throttled per client address and per user."""

from __future__ import annotations

import logging

import pytest

from qa.webauth import LoginGuard, LoginThrottled


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def guard(clock) -> LoginGuard:
    return LoginGuard("reader", "s3cret", clock=clock, free_failures=3, base_delay=1.0, max_delay=60.0)


def test_the_right_password_logs_in_and_wrong_ones_do_not(guard):
    assert guard.check("reader", "s3cret", "10.0.0.1")
    assert not guard.check("reader", "wrong", "10.0.0.1")
    assert not guard.check("someone", "s3cret", "10.0.0.1")


def test_after_the_free_failures_even_the_right_password_waits_and_the_wait_doubles(guard, clock):
    for _ in range(3):
        assert not guard.check("reader", "wrong", "10.0.0.1")  # typing mistakes: no wait yet
    assert guard.check("reader", "s3cret", "10.0.0.1")          # and success clears them
    for _ in range(4):
        assert not guard.check("reader", "wrong", "10.0.0.1")
    with pytest.raises(LoginThrottled) as refused:
        guard.check("reader", "s3cret", "10.0.0.1")
    assert refused.value.retry_after == pytest.approx(1.0)
    assert "try again in 1 s" in str(refused.value) and "not checked" in str(refused.value)
    clock.now += 1.01
    assert not guard.check("reader", "wrong", "10.0.0.1")       # fifth failure: 2 s
    with pytest.raises(LoginThrottled) as refused:
        guard.check("reader", "s3cret", "10.0.0.1")
    assert refused.value.retry_after == pytest.approx(2.0)
    clock.now += 2.01
    assert guard.check("reader", "s3cret", "10.0.0.1")
    assert not guard.check("reader", "wrong", "10.0.0.1")       # the count started again
    assert guard.check("reader", "s3cret", "10.0.0.1")


def test_the_wait_is_capped(guard, clock):
    for _ in range(3 + 20):
        clock.now += 1000
        guard.check("reader", "wrong", "10.0.0.1")
    with pytest.raises(LoginThrottled) as refused:
        guard.check("reader", "s3cret", "10.0.0.1")
    assert refused.value.retry_after == pytest.approx(60.0)


def test_a_client_guessing_many_user_names_is_throttled_by_its_address(guard):
    for n in range(4):
        assert not guard.check(f"user{n}", "guess", "10.0.0.9")
    with pytest.raises(LoginThrottled):
        guard.check("reader", "s3cret", "10.0.0.9")
    assert guard.check("reader", "s3cret", "10.0.0.2")  # another address, and this user has no failures


def test_a_user_attacked_from_many_addresses_is_throttled_by_name(guard):
    for n in range(4):
        assert not guard.check("reader", "guess", f"10.0.1.{n}")
    with pytest.raises(LoginThrottled):
        guard.check("reader", "s3cret", "10.0.2.1")


def test_failures_are_logged_with_user_and_address_and_never_the_password(guard, caplog):
    with caplog.at_level(logging.WARNING, logger="qa.app.login"):
        for _ in range(4):
            guard.check("reader", "hunter2-typo", "10.0.0.7")
        with pytest.raises(LoginThrottled):
            guard.check("reader", "s3cret", "10.0.0.7")
    text = caplog.text
    assert "failed login for user 'reader' from 10.0.0.7" in text
    assert "login refused for user 'reader' from 10.0.0.7" in text
    assert "hunter2" not in text and "s3cret" not in text


def test_memory_stays_bounded_under_a_flood_of_addresses(clock, monkeypatch):
    import qa.webauth

    monkeypatch.setattr(qa.webauth, "MAX_TRACKED", 100)
    guard = LoginGuard("reader", "s3cret", clock=clock)
    for n in range(1000):
        guard.check(f"u{n}", "x", f"10.1.{n // 256}.{n % 256}")
    assert len(guard._failures) <= 100
