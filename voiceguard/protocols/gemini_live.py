from voiceguard.protocols.passthrough import PassthroughAdapter


class GeminiLiveAdapter(PassthroughAdapter):
    pass
