"""Sentence selection: whole sentences for the question, steps kept as steps, plain text, short."""

from __future__ import annotations

from deskpilot.core.agent.extractive import (
    MAX_SENTENCE_WORDS,
    MAX_WORDS,
    Excerpt,
    Source,
    general,
    plain_text,
    render,
    select,
    sentences,
    units,
)

RESET = Source(
    "Reset your password", "https://help.example.com/reset",
    "Reset your password\n"
    "If you forgot your password, you can set a new one from the sign-in page.\n"
    "1. Go to the login page and click **Forgot password?**\n"
    "2. Enter the email address of your account. We send a reset link that is valid for "
    "**1 hour**.\n"
    "3. Open the link and choose a new password of at least 12 characters.\n"
    "The reset email does not arrive\n"
    "- Check your spam folder.\n"
    "You can request a new link every 5 minutes. Requesting a new link invalidates the "
    "previous one.", 0.8,
)
REFUND = Source(
    "Refund policy", None,
    "Refund policy\nNew subscriptions\nWe want you to be happy with Acme Cloud. If you change "
    "your mind, you can request a full refund within 14 days of the first charge. Overage "
    "charges are not refundable. Approved refunds go back to the original payment method "
    "within 5-10 business days.", 0.7,
)
PLANS = Source(
    "Upgrade or downgrade your plan", None,
    "Upgrade or downgrade your plan\nYou can change plans at any time. To cancel your "
    "subscription, open Billing and choose Cancel plan. Your projects keep running until the "
    "end of the paid period.", 0.74,
)


def test_markdown_becomes_plain_text() -> None:
    assert plain_text("Click **Forgot password?** in `Settings`, see [the guide](https://x.y/z)"
                      ) == "Click Forgot password? in Settings, see the guide"
    assert plain_text("## Heading") == "Heading"


def test_units_are_whole_sentences_steps_and_items() -> None:
    found = units(RESET)
    kinds = [(u.kind, u.text[:12]) for u in found]
    assert kinds[0] == ("sentence", "If you forgo")
    assert [u.kind for u in found[1:4]] == ["step"] * 3
    assert found[1].text == "Go to the login page and click Forgot password?"  # no markdown
    assert ("item", "Check your s") in kinds
    # The section heading is not a sentence of the answer.
    assert all("does not arrive" not in u.text for u in found)


def test_a_passage_cut_mid_sentence_never_shows_the_fragment() -> None:
    cut = Source("Billing", None, "Billing\nInvoices are emailed monthly. We send a reset link "
                 "that", 0.9)
    assert [u.text for u in units(cut)] == ["Invoices are emailed monthly."]


def test_manual_lines_broken_mid_sentence_are_joined() -> None:
    manual = Source("Remote", None, "Remote\nIf the Samsung\nSmart Remote does not pair, press"
                    "\nand hold the buttons for 3 seconds.\n- 7 -", 0.9)
    assert [u.text for u in units(manual)] == [
        "If the Samsung Smart Remote does not pair, press and hold the buttons for 3 seconds."]


def test_how_to_question_gets_the_steps_as_steps() -> None:
    [excerpt] = select("How do I reset my password?", [RESET])
    text = render(excerpt)
    assert text.splitlines()[:4] == [
        "If you forgot your password, you can set a new one from the sign-in page.",
        "1. Go to the login page and click Forgot password?",
        "2. Enter the email address of your account. We send a reset link that is valid for "
        "1 hour.",
        "3. Open the link and choose a new password of at least 12 characters.",
    ]
    assert "**" not in text


def test_sentences_are_chosen_for_the_question_and_stay_short() -> None:
    [excerpt, *_] = select("How long does the reset link stay valid?", [RESET])
    assert "valid for 1 hour" in render(excerpt)
    [refund] = select("how long until my refund arrives?", [REFUND])
    text = render(refund)
    assert "5-10 business days" in text and "happy with Acme" not in text
    assert len(text.split()) <= MAX_WORDS


def test_a_second_source_only_when_it_adds_something() -> None:
    question = "I want to cancel my subscription and get my money back"
    both = select(question, [PLANS, REFUND])
    assert [e.source.title for e in both] == ["Upgrade or downgrade your plan", "Refund policy"]
    assert sum(e.words for e in both) <= MAX_WORDS + 10
    # A second source that repeats what the first already says is left out.
    same = Source("Password help", None, "Password help\nIf you forgot your password, you can "
                  "set a new one from the sign-in page.", 0.79)
    assert [e.source.title for e in select("forgot my password", [RESET, same])] == [
        "Reset your password"]
    # So is one that scores far below the first.
    weak = Source("Refund policy", None, REFUND.text, 0.2)
    assert len(select(question, [PLANS, weak])) == 1


def test_whole_sentences_only_when_asked() -> None:
    """A draft a person sends never stops mid-sentence: with `whole`, a long sentence stays
    whole and a passage with no whole sentence is passed over for the next one."""
    long = " ".join(["word"] * (MAX_SENTENCE_WORDS + 10)) + " end."
    wall = Source("Wall", None, f"Wall\n{long}", 0.9)
    assert render(select("word", [wall])[0]).endswith("…")
    assert render(select("word", [wall], whole=True)[0]) == long
    cut = Source("Cut", None, "Cut\nA sentence that the window cut before its", 0.95)
    assert render(select("sentence window", [cut])[0]).endswith("…")
    [excerpt] = select("reset link", [cut, RESET], whole=True)
    assert excerpt.source is RESET and "…" not in render(excerpt)


def test_general_sentences_leave_out_courtesy_and_one_account() -> None:
    kept = ["Annual plans can be refunded pro rata for unused full months.",
            "Please ask IT to allow mail from no-reply@acmecloud.example.",
            "Our DPA with the EU Standard Contractual Clauses applies automatically."]
    dropped = ["Hi Ana,", "Thanks for reaching out!", "I'm sorry to hear that.",
               "Let us know if that helps.", "Best regards",
               "I've cancelled the renewal and issued a refund for the 11 unused months.",
               "Our logs show the emails were delivered but quarantined by your mail filter.",
               "Our scanner already revoked that key automatically."]
    assert [s for s in kept + dropped if general(s)] == kept


def test_an_abbreviation_does_not_end_a_sentence() -> None:
    # Was quoted to a stackfaq question as "In the web interface click repeatedly the second
    # column header, i.e." — the rest of the sentence dropped as a fragment.
    text = ("In the web interface click repeatedly the second column header, i.e. Type until it "
            "shows Size. Then you see the size, e.g. Photos takes 2 GB. Ask Dr. Smith.")
    assert sentences(text) == [
        "In the web interface click repeatedly the second column header, i.e. Type until it "
        "shows Size.", "Then you see the size, e.g. Photos takes 2 GB.", "Ask Dr. Smith."]
    assert sentences("Choose No. The TV restarts.") == ["Choose No.", "The TV restarts."]


def test_a_sentence_that_leads_into_a_list_is_quoted_with_it() -> None:
    # Was quoted alone as a second source: "Use one of:" and then the citation.
    apex = Source("DNS records for your domain", None,
                  "DNS records for your domain\nApex domains (example.com)\nAn apex domain "
                  "cannot have a CNAME. Use one of:\n- an ALIAS or ANAME record to "
                  "edge.acmecloud.app, or\n- two A records: 203.0.113.10 and 203.0.113.11.\n"
                  "Changes can take up to an hour.", 0.7)
    [excerpt] = select("which one should I use", [apex])
    assert render(excerpt) == (
        "Use one of:\n- an ALIAS or ANAME record to edge.acmecloud.app, or\n"
        "- two A records: 203.0.113.10 and 203.0.113.11.")
    # A passage that ends in the lead-in (its window cut the list away) leaves it out.
    cut = Source(apex.title, None, apex.text.split("\n- ")[0], 0.7)
    assert [u.text for u in units(cut)] == ["An apex domain cannot have a CNAME."]


def test_a_second_source_that_only_points_back_at_the_first_is_left_out() -> None:
    # Was quoted after the steps it points to: 'To use your own domain, see "Connect a custom
    # domain".'
    connect = Source("Connect a custom domain", None, "Connect a custom domain\nCustom domains "
                     "are available on Starter plans.\n1. Open App → Domains.\n2. Click Add "
                     "domain.", 0.8)
    deploy = Source("Deploy your first app", None, "Deploy your first app\nEach app gets a "
                    "free address. To use your own domain, see \"Connect a custom domain\".",
                    0.7)
    excerpts = select("can I use my own domain name instead of yours", [connect, deploy])
    assert [e.source.title for e in excerpts] == ["Connect a custom domain"]


MANUAL = Source(
    "Using the Home Screen", None,
    "Using the Home Screen\nYou can arrange the apps on the Home Screen.\n"
    "Removing an item on the Home Screen\nMove the focus to the app you want to remove.\n"
    "Then select Remove.\nSettings\nGeneral\nSystem Manager\nSmart Security\n"
    "You can use Smart Security to protect the TV.\nTo restore the settings,\nselect\nReset\n"
    ". All settings are then reset. If you want to operate the\nTV, use the remote.", 0.9,
)


def test_a_manual_sub_heading_is_quoted_on_its_own_line_not_run_into_the_sentence() -> None:
    # Was: "Removing an item on the Home Screen Move the focus to the app…" as one sentence.
    [excerpt] = select("How do I remove an item from the Home Screen?", [MANUAL])
    lines = render(excerpt).splitlines()
    at = lines.index("Removing an item on the Home Screen")
    assert lines[at + 1] == "Move the focus to the app you want to remove. Then select Remove."
    # A menu path of one-line steps reads as one ("Settings General System Manager …").
    [excerpt] = select("How can I use Smart Security?", [MANUAL])
    path, sentence = render(excerpt).splitlines()[:2]
    assert path == "Settings > General > System Manager > Smart Security"
    assert sentence.startswith("You can use Smart Security to protect the TV.")


PRICES = Source(
    "Compare plans", None,
    "Compare plans\nPro — 29 USD per member per month\nUnlimited apps, preview deployments and "
    "team roles. Email support within 1 business day.", 0.7,
    headings=("Pro — 29 USD per member per month",),
)


def test_the_section_heading_is_quoted_above_the_sentences_from_its_section() -> None:
    # Was: "Unlimited apps, …" without the heading that carries the price.
    [excerpt] = select("How much is the pro plan?", [PRICES])
    assert render(excerpt).splitlines()[:2] == [
        "Pro — 29 USD per member per month", "Unlimited apps, preview deployments and team roles."]
    # Only a heading the index knows: a manual's short first line is no heading to show.
    manual = Source("Connecting a cable", None, "Connecting a cable\nAV IN)\nConnect AV IN on "
                    "the TV to AV OUT on the device.", 0.7)
    [excerpt] = select("How do I connect a composite cable?", [manual])
    assert render(excerpt) == "Connect AV IN on the TV to AV OUT on the device."
    # Not twice when the quote starts with it.
    wildcard = Source("SSL", None, "SSL\nWildcard domains\nWildcard domains need a DNS-01 "
                      "challenge.", 0.7, headings=("Wildcard domains",))
    [excerpt] = select("Can I get a wildcard certificate?", [wildcard])
    assert render(excerpt) == "Wildcard domains need a DNS-01 challenge."


def test_the_headings_a_passage_holds_stand_on_lines_of_their_own() -> None:
    # Was (a lead chunk): "Subdomains (www.example.com, app.example.com) Create a CNAME record
    # …" as one sentence, and "Example: CNAME www edge.example > Apex domains (example.com)"
    # as a sub-heading path.
    sub, apex = "Subdomains (www.example.com, app.example.com)", "Apex domains (example.com)"
    dns = Source("DNS records", None, f"DNS records\nDNS records\n{sub}\nCreate a CNAME record "
                 f"pointing to edge.example.\nExample: CNAME www edge.example\n{apex}\nAn apex "
                 "domain cannot have a CNAME.", 0.7, headings=("DNS records", sub, apex))
    found = units(dns)
    assert [(u.heading, u.text, u.context) for u in found] == [
        (sub, "Create a CNAME record pointing to edge.example.", ""),
        (sub, "Example: CNAME www edge.example", ""),
        (apex, "An apex domain cannot have a CNAME.", "")]
    assert render(Excerpt(dns, tuple(found))).splitlines() == [
        sub, "Create a CNAME record pointing to edge.example. Example: CNAME www edge.example",
        apex, "An apex domain cannot have a CNAME."]


def test_a_sentence_broken_around_a_button_name_stays_one_sentence() -> None:
    found = units(MANUAL)
    assert "To restore the settings, select Reset ." in [u.text for u in found]
    assert "If you want to operate the TV, use the remote." in [u.text for u in found]
    assert [u.context for u in found if u.context] == [
        "Removing an item on the Home Screen",
        "Settings > General > System Manager > Smart Security"]


def test_a_footnote_mark_or_a_sentence_start_is_no_sub_heading() -> None:
    manual = Source("Network", None, "Network\nYou can connect the TV to a network.\n"
                    "The e-Manual contains a section called\nLearn TV Remote in Accessibility "
                    "Guidance.\n* Shielded Twist Pair\nThe TV will not connect with a slow "
                    "cable.", 0.9)
    found = units(manual)
    assert all(not u.context for u in found)
    assert "The e-Manual contains a section called Learn TV Remote in Accessibility Guidance." in [
        u.text for u in found]
