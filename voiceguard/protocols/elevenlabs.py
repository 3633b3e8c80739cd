from voiceguard.protocols.passthrough import PassthroughAdapter


class ElevenLabsAdapter(PassthroughAdapter):
    pass
