"""Simulation on past tickets (`deskpilot simulate`) and conversation test suites
(`deskpilot test`): the real chat, agent, tools, handoff rules and triage, on a throw-away
platform.

    tickets.py       the tickets to replay, from a connector or a JSON Lines file
    platform.py      SimulationServices: no leakage, no write-backs, tool calls and tokens kept
    conversation.py  customer turns through the chat server in-process
    run.py           the replay;  report.py  report.json's rows and summary (its schema)
    html.py          report.html;  suite.py  test suites, pass^k, JUnit XML
    commands.py      the two commands
"""
