"""Errors raised by preprocessing: each message names the source, the field and what was expected."""


class PreprocessError(ValueError):
    """A frame could not be turned into a model input (bad JPEG, empty payload, wrong size)."""


class ContractError(ValueError):
    """Two preprocessing contracts disagree (e.g. a model trained with other pixels than these)."""
