"""Conformance test: the official `twilio` Python library, unchanged, against
the sandbox's Twilio Verify v2 API.

Run by tests/it/twilio_conformance.rs, which starts the standalone sandbox and
passes, in the environment:

  TWILIO_VERIFY_BASE_URL  the Verify API's base (http://127.0.0.1:PORT/twilio)
  TWILIO_ACCOUNT_SID      an AC... SID the sandbox accepts
  TWILIO_AUTH_TOKEN       its secret (the sandbox's API key)
  TWILIO_API_KEY_SID      an SK... SID, also accepted with the same secret
  TWILIO_SERVICE_SID      a VA... SID
  SANDBOX_OUTBOX_URL      the sandbox's outbox JSON (http://127.0.0.1:PORT/outbox)
  SANDBOX_API_KEY         the key for the outbox (X-Authy-API-Key)

The only thing changed in the library is where it sends requests
(`client.verify.base_url`). Exits non-zero on the first failed check.
"""

import json
import os
import re
import sys
import urllib.parse
import urllib.request

from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

BASE_URL = os.environ["TWILIO_VERIFY_BASE_URL"]
ACCOUNT_SID = os.environ["TWILIO_ACCOUNT_SID"]
AUTH_TOKEN = os.environ["TWILIO_AUTH_TOKEN"]
API_KEY_SID = os.environ["TWILIO_API_KEY_SID"]
SERVICE_SID = os.environ["TWILIO_SERVICE_SID"]
OUTBOX_URL = os.environ["SANDBOX_OUTBOX_URL"]
OUTBOX_KEY = os.environ["SANDBOX_API_KEY"]

passed = 0


def check(condition, what):
    global passed
    if not condition:
        raise AssertionError(what)
    passed += 1


def client_for(username, password, account_sid=None):
    client = Client(username, password, account_sid)
    client.verify.base_url = BASE_URL
    return client


def outbox(to, limit=1):
    """The newest outbox messages to `to` (E.164)."""
    digits = re.sub(r"\D", "", to)
    query = urllib.parse.urlencode({"phone": digits, "limit": limit})
    request = urllib.request.Request(
        "{}?{}".format(OUTBOX_URL, query), headers={"X-Authy-API-Key": OUTBOX_KEY}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def newest_code(to, length):
    messages = outbox(to)
    check(messages, "a message was sent to {}".format(to))
    text = messages[0]["text"]
    runs = [run for run in re.findall(r"\d+", text) if len(run) == length]
    check(len(runs) == 1, "one {}-digit code in {!r}".format(length, text))
    return messages[0]["channel"], runs[0]


def expect_error(call, status, code, what):
    try:
        call()
    except TwilioRestException as e:
        # The legacy error shape, not an RFC 9457 problem
        # (TwilioServiceException is a different class).
        check(type(e) is TwilioRestException, "{}: {!r}".format(what, type(e)))
        check(e.status == status, "{}: HTTP {} (wanted {})".format(what, e.status, status))
        check(e.code == code, "{}: code {!r} (wanted {})".format(what, e.code, code))
        check(isinstance(e.code, int), "{}: code is a number".format(what))
        return e
    raise AssertionError("{}: no exception (wanted {} / {})".format(what, status, code))


def wrong_code(code):
    return "0" * len(code) if code != "0" * len(code) else "1" * len(code)


def main():
    client = client_for(ACCOUNT_SID, AUTH_TOKEN)
    service = client.verify.v2.services(SERVICE_SID)

    # The service (what a connection test reads).
    fetched = service.fetch()
    check(fetched.sid == SERVICE_SID, "service sid")
    check(fetched.account_sid == ACCOUNT_SID, "service account_sid")
    check(fetched.friendly_name == "Storefront 2FA Sandbox", "friendly_name")
    length = fetched.code_length
    check(isinstance(length, int) and 4 <= length <= 10, "code_length {!r}".format(length))

    # Wrong credentials: 20003.
    expect_error(
        lambda: client_for(ACCOUNT_SID, "not-the-token").verify.v2.services(SERVICE_SID).fetch(),
        401,
        20003,
        "wrong auth token",
    )
    # An API key SID with its secret works like the Account SID.
    by_key = client_for(API_KEY_SID, AUTH_TOKEN, ACCOUNT_SID)
    check(by_key.verify.v2.services(SERVICE_SID).fetch().sid == SERVICE_SID, "API key auth")

    # Create.
    to = "+12015550123"
    created = service.verifications.create(to=to, channel="sms")
    check(re.fullmatch(r"VE[0-9a-f]{32}", created.sid or ""), "VE sid {!r}".format(created.sid))
    check(created.status == "pending", "created pending")
    check(created.valid is False, "created valid is False")
    check(created.to == to, "created to")
    check(created.channel == "sms", "created channel")
    check(len(created.send_code_attempts) == 1, "one send attempt")
    check(
        re.fullmatch(r"VL[0-9a-f]{32}", created.send_code_attempts[0]["attempt_sid"]),
        "VL attempt sid",
    )
    check(created.date_created is not None and not isinstance(created.date_created, str),
          "date_created parses as a datetime")
    channel, code = newest_code(to, length)
    check(channel == "sms", "the code went by sms")

    # Resend (by call): the same verification and code, one more attempt.
    resent = service.verifications.create(to=to, channel="call")
    check(resent.sid == created.sid, "resend keeps the verification")
    check(len(resent.send_code_attempts) == 2, "resend adds an attempt")
    channel, again = newest_code(to, length)
    check(channel == "call", "the resend went by call")
    check(again == code, "the resend sent the same code")
    check(len(outbox(to, limit=10)) == 2, "two messages in the outbox")

    # Fetch while pending.
    check(service.verifications(created.sid).fetch().status == "pending", "fetch pending")

    # A wrong code: pending, not valid.
    wrong = service.verification_checks.create(to=to, code=wrong_code(code))
    check(wrong.status == "pending", "wrong code stays pending")
    check(wrong.valid is False, "wrong code valid is False")

    # The right code: approved, valid.
    right = service.verification_checks.create(to=to, code=code)
    check(right.status == "approved", "right code approved")
    check(right.valid is True, "right code valid is True")
    check(right.sid == created.sid, "check names the verification")

    # After approval the verification is gone.
    expect_error(
        lambda: service.verification_checks.create(to=to, code=code),
        404,
        20404,
        "check after approval",
    )
    expect_error(
        lambda: service.verification_checks.create(verification_sid=created.sid, code=code),
        404,
        20404,
        "check by sid after approval",
    )
    expect_error(
        lambda: service.verifications(created.sid).fetch(),
        404,
        20404,
        "fetch after approval",
    )

    # Cancel.
    to_cancel = "+12015550124"
    pending = service.verifications.create(to=to_cancel, channel="sms")
    canceled = service.verifications(pending.sid).update(status="canceled")
    check(canceled.status == "canceled", "canceled")
    expect_error(
        lambda: service.verifications(pending.sid).fetch(),
        404,
        20404,
        "fetch after cancel",
    )

    # Six checks: the sixth is 60202 and the verification ends.
    to_guess = "+12015550125"
    guessed = service.verifications.create(to=to_guess, channel="sms")
    _, guess_code = newest_code(to_guess, length)
    for n in range(5):
        result = service.verification_checks.create(to=to_guess, code=wrong_code(guess_code))
        check(result.status == "pending", "wrong check {} pending".format(n + 1))
    expect_error(
        lambda: service.verification_checks.create(to=to_guess, code=guess_code),
        429,
        60202,
        "sixth check",
    )
    ended = service.verifications(guessed.sid).fetch()
    check(ended.status == "max_attempts_reached", "max_attempts_reached")

    # Six sends in ten minutes: the sixth is 60203.
    to_spam = "+12015550126"
    for n in range(5):
        service.verifications.create(to=to_spam, channel="sms")
    expect_error(
        lambda: service.verifications.create(to=to_spam, channel="sms"),
        429,
        60203,
        "sixth send",
    )

    # The test numbers.
    expect_error(
        lambda: service.verifications.create(to="+1555", channel="sms"),
        400,
        60200,
        "invalid To",
    )
    expect_error(
        lambda: service.verifications.create(to="+12015550205", channel="sms"),
        400,
        60205,
        "SMS to a landline",
    )
    check(
        service.verifications.create(to="+12015550205", channel="call").status == "pending",
        "a call to a landline",
    )
    expect_error(
        lambda: service.verifications.create(to="+12015550410", channel="sms"),
        403,
        60410,
        "blocked number",
    )

    print("twilio {} conformance: {} checks passed".format(_twilio_version(), passed))


def _twilio_version():
    import twilio

    return getattr(twilio, "__version__", "?")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print("conformance check failed after {} passed: {}".format(passed, e), file=sys.stderr)
        sys.exit(1)
