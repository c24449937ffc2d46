"""--help of pinpost, its commands, sendmail mode and pinpostd.

--help prints the usage on stdout and exits 0 (pinpost(1), pinpostd(8));
a bad option still goes to stderr with a non-zero exit.  Every command
pinpost dispatches is covered: COMMANDS must follow mta/cli/pinpost.c's
table.
"""
import os

import pytest

from conftest import BUILD, run

COMMANDS = ("pin", "pins", "check", "probe", "queue", "policyd", "send")
BAD = "--no-such-option"
# a command line each command refuses as a usage error, and its status
USAGE_ERROR = {"pin": ((), 2), "pins": ((BAD,), 2), "check": ((BAD,), 2),
               "probe": ((BAD,), 2), "queue": ((BAD,), 2),
               "policyd": ((BAD,), 2), "send": ((BAD,), 64)}


def assert_help(p, name):
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    assert p.stdout.startswith("usage: "), p.stdout
    assert name in p.stdout.splitlines()[0], p.stdout
    assert p.stderr == "", p.stderr


def assert_usage_error(p, name, status=2):
    assert p.returncode == status, (p.returncode, p.stdout, p.stderr)
    assert p.stdout == "", p.stdout
    assert "usage: " in p.stderr and name in p.stderr, p.stderr


@pytest.mark.parametrize("opt", ["--help", "-h"])
def test_pinpost_help(pinpost, opt):
    p = pinpost(opt)
    assert_help(p, "pinpost")
    for cmd in COMMANDS:       # the overview names every command
        assert "\n  %s " % cmd in p.stdout, (cmd, p.stdout)


def test_pinpost_help_after_store(pinpost, tmp_path):
    p = pinpost("-s", str(tmp_path / "pins.tdb"), "--help")
    assert_help(p, "pinpost")
    assert not (tmp_path / "pins.tdb").exists()


def test_pinpost_bad_option(pinpost):
    assert_usage_error(pinpost(BAD), "pinpost")


def test_pinpost_no_command(pinpost):
    assert_usage_error(pinpost(), "pinpost")


def test_pinpost_unknown_command(pinpost):
    p = pinpost("frobnicate", "--help")
    assert_usage_error(p, "pinpost")
    assert "unknown command: frobnicate" in p.stderr


@pytest.mark.parametrize("cmd", COMMANDS)
def test_command_help(pinpost, cmd):
    p = pinpost(cmd, "--help")
    assert_help(p, "pinpost")
    assert " %s " % cmd in p.stdout.splitlines()[0], p.stdout


@pytest.mark.parametrize("cmd", COMMANDS)
def test_command_usage_error(pinpost, cmd):
    args, status = USAGE_ERROR[cmd]
    assert_usage_error(pinpost(cmd, *args), cmd, status)


def test_pin_takes_no_option(pinpost):
    """pin has no options: an unknown one is a file that is not there."""
    p = pinpost("pin", BAD)
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert p.stdout == "" and BAD in p.stderr, p.stderr


@pytest.mark.parametrize("args", [
    ("pins", "list", "--help"),
    ("pins", "add", "mx.example.test", "--help"),
    ("queue", "-f", "/nonexistent.conf", "--help"),
    ("send", "-t", "--help"),
    ("probe", "--json", "--help"),
])
def test_help_among_arguments(pinpost, tmp_path, monkeypatch, args):
    """--help anywhere among a command's arguments: only the usage, the
    command itself does nothing (no store created, nothing read)."""
    monkeypatch.setenv("PINPOST_STORE", str(tmp_path / "pins.tdb"))
    p = pinpost(*args)
    assert_help(p, args[0])
    assert not (tmp_path / "pins.tdb").exists()


def test_help_after_double_dash_is_an_argument(pinpost, tmp_path):
    """After "--", --help is an operand: pin reads a file of that name."""
    p = pinpost("pin", "--", "--help")
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert p.stdout == ""


def test_command_usage_matches_help(pinpost):
    """The synopsis after a usage error is the first part of --help."""
    for cmd in COMMANDS:
        err = pinpost(cmd, *USAGE_ERROR[cmd][0]).stderr
        synopsis = err[err.index("usage: "):]
        assert pinpost(cmd, "--help").stdout.startswith(synopsis), cmd


@pytest.fixture
def sendmail(tmp_path):
    link = tmp_path / "sendmail"
    link.symlink_to(os.path.join(BUILD, "pinpost"))

    def call(*args):
        return run([str(link), *args], input="")
    return call


def test_sendmail_help(sendmail):
    assert_help(sendmail("--help"), "sendmail")


def test_sendmail_bad_option(sendmail):
    assert_usage_error(sendmail("-Z"), "sendmail", status=64)


PINPOSTD = os.path.join(BUILD, "pinpostd")


@pytest.mark.parametrize("opt", ["--help", "-h"])
def test_pinpostd_help(opt):
    p = run([PINPOSTD, opt])
    assert_help(p, "pinpostd")
    for flag in ("-d", "-n", "-v", "-f config"):
        assert "\n  %s " % flag in p.stdout, (flag, p.stdout)


def test_pinpostd_help_with_options(tmp_path):
    """--help wins over the rest: no configuration is read."""
    p = run([PINPOSTD, "-f", str(tmp_path / "missing.conf"), "--help"])
    assert_help(p, "pinpostd")


def test_pinpostd_bad_option():
    assert_usage_error(run([PINPOSTD, BAD]), "pinpostd")


def test_pinpostd_extra_argument():
    assert_usage_error(run([PINPOSTD, "extra"]), "pinpostd")


def test_pinpostd_help_after_double_dash():
    """pinpostd takes no operands: after "--", --help is an extra one."""
    assert_usage_error(run([PINPOSTD, "--", "--help"]), "pinpostd")
