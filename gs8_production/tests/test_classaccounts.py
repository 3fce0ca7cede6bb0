"""`manage.py classaccounts N`: accounts an instructor hands out, one per student."""

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def accounts(output):
    rows = [line.split() for line in output.splitlines()[1:] if line.startswith("student")]
    return dict(rows)


def test_creates_n_accounts_that_log_in_with_the_printed_passwords(capsys):
    call_command("classaccounts", "3")
    printed = accounts(capsys.readouterr().out)
    assert list(printed) == ["student01", "student02", "student03"]
    assert len(set(printed.values())) == 3
    for name, password in printed.items():
        user = authenticate(username=name, password=password)
        assert user is not None and user.username == name
        assert not user.is_staff and not user.is_superuser


def test_a_second_run_resets_no_password_and_says_which_accounts_exist(capsys):
    call_command("classaccounts", "2")
    first = accounts(capsys.readouterr().out)
    with pytest.raises(CommandError, match="student01, student02"):
        call_command("classaccounts", "3")
    assert get_user_model().objects.filter(username="student03").exists() is False
    assert authenticate(username="student01", password=first["student01"]) is not None


def test_another_prefix_makes_another_set(capsys):
    call_command("classaccounts", "2")
    call_command("classaccounts", "1", "--prefix", "guest")
    assert set(accounts(capsys.readouterr().out)) == {"student01", "student02"}
    assert get_user_model().objects.filter(username="guest01").exists()


def test_a_count_out_of_range_is_refused():
    with pytest.raises(CommandError, match="from 1 to 999"):
        call_command("classaccounts", "0")
