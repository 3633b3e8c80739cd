"""``voiceguard demo``: one scripted phone call through voiceguard, shown end to end in the terminal.

The vendors on the other side are the local SIMULATOR (``voiceguard.simulator``): it speaks the real OpenAI
and Deepgram protocols, so the official SDK clients drive the call unchanged, and needs no API key or
network. Modules: ``script`` (the call), ``vendors`` (the simulated OpenAI and Deepgram), ``agent`` (the
voice agent, written against the real SDKs), ``evidence`` (what voiceguard recorded: turns, decisions, the
audit log, the trace file), ``checks`` (what the demo claims, checked), ``runner`` and ``render``.
"""
