"""The shipped payment-reminder script the dialogue tests drive, its customer and the prompts
they expect to hear from it."""

from __future__ import annotations

import json
from pathlib import Path

from voxcast.domain import scripts as s

EXAMPLE = Path(s.__file__).parent / "examples" / "payment_reminder.json"
SCRIPT = s.parse(json.loads(EXAMPLE.read_text()))
CUSTOMER = {"name": "Jack", "amount": "$120", "dueDate": "March 1"}

IDENTIFY = "Hello, this is Example Energy. Am I speaking with Jack?"
IDENTIFY_AGAIN = "Sorry, I did not catch that. Am I speaking with Jack? Press 1 for yes, 2 for no."
ASK_DATE = "Thank you. Your payment of $120 was due on March 1. When will you be able to pay?"
OFFER = "Would you like to talk about a payment plan with a colleague? Say yes, or press 1."
WHO = "This is the automated billing assistant of Example Energy, calling about your account."
