"""The inbound texts every benchmark uses: a realistic mix of consumer replies.

About 85% ordinary replies, 5% STOP, 5% HELP and 5% YES, as a collections CRM sees
them. The ordinary replies are written the way phones send them: short and long, with
question marks and dollar amounts, and about one in eight with something outside ASCII
(emoji, Spanish accents, an iPhone's curly apostrophe), because those take a different
path through the classifier than plain ASCII and leaving them out would flatter it.
"""

from __future__ import annotations

import random

ORDINARY: tuple[str, ...] = (
    "ok",
    "Ok",
    "OK thanks",
    "Thanks!",
    "Thank you",
    "Who is this?",
    "Who is this",
    "Wrong number",
    "I can pay $50 on Friday",
    "I can pay 100 on the 15th",
    "Can you call me tomorrow after 5?",
    "I already paid that",
    "I paid it last week, check again",
    "What is my balance?",
    "How much do I owe",
    "Please call me",
    "Call me at 2015550134",
    "I will send the payment next week",
    "Can we set up a payment plan?",
    "Sounds good",
    "I lost my job and can't pay right now",
    "Is this about my car loan?",
    "Received",
    "Can you email me the statement instead?",
    "I get paid on Friday, I'll pay then",
    "What company is this",
    "Can I pay online?",
    "yes i got it thanks",
    "k",
    "Sure",
    "I'm at work, call me later",
    "I need more time",
    "My husband handles the bills",
    "Send me the link to pay",
    "Is there a late fee?",
    "I dont recognize this debt",
    "Please send proof of the debt",
    "Can I get a discount if I pay in full?",
    "Payment sent",
    "I'll call you back",
    "Good morning, I have a question about my account",
    "What are your hours?",
    "Just paid $75.00 confirmation 88412",
    "Ok I will",
    "Hello?",
    "Can you lower the monthly payment",
    "I thought this was settled",
    "I'm in the hospital right now",
    "Please give me until the 30th",
    "Got it",
    "Thanks for your patience",
    # Outside ASCII: emoji, accents, curly apostrophes and quotes as phones send them.
    "👍",
    "Ok 👍",
    "Gracias 🙏",
    "¿Cuánto debo?",
    "I’ll pay Friday",
    "Can’t pay this month, sorry",
    "Sí, puedo pagar el viernes",
)

STOP: tuple[str, ...] = ("STOP", "Stop", "stop", "STOP.", "Stop ", "stop!")
HELP: tuple[str, ...] = ("HELP", "Help", "help", "Help?")
YES: tuple[str, ...] = ("YES", "Yes", "yes", "Yes.")

#: The kinds of text, with their share of traffic.
MIX: tuple[tuple[str, float], ...] = (("ordinary", 0.85), ("stop", 0.05), ("help", 0.05), ("yes", 0.05))
_TEXTS = {"ordinary": ORDINARY, "stop": STOP, "help": HELP, "yes": YES}


def mixed_texts(count: int, *, seed: int = 7) -> list[tuple[str, str]]:
    """``count`` ``(kind, text)`` pairs in the realistic mix, the same for a given seed."""
    rng = random.Random(seed)
    kinds = [kind for kind, _share in MIX]
    weights = [share for _kind, share in MIX]
    return [(kind, rng.choice(_TEXTS[kind])) for kind in rng.choices(kinds, weights, k=count)]
