from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class MsgSubmitNewParticipant(_message.Message):
    __slots__ = ("creator", "url", "validator_key", "worker_key")
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    VALIDATOR_KEY_FIELD_NUMBER: _ClassVar[int]
    WORKER_KEY_FIELD_NUMBER: _ClassVar[int]
    creator: str
    url: str
    validator_key: str
    worker_key: str
    def __init__(self, creator: _Optional[str] = ..., url: _Optional[str] = ..., validator_key: _Optional[str] = ..., worker_key: _Optional[str] = ...) -> None: ...

class MsgSubmitNewParticipantResponse(_message.Message):
    __slots__ = ("participant_index", "status")
    PARTICIPANT_INDEX_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    participant_index: str
    status: str
    def __init__(self, participant_index: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class MsgSubmitSeed(_message.Message):
    __slots__ = ("creator", "epoch_index", "signature")
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    EPOCH_INDEX_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    creator: str
    epoch_index: int
    signature: str
    def __init__(self, creator: _Optional[str] = ..., epoch_index: _Optional[int] = ..., signature: _Optional[str] = ...) -> None: ...

class MsgSubmitSeedResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MsgSubmitPocBatch(_message.Message):
    __slots__ = ("creator", "poc_stage_start_block_height", "batch_id", "nonces", "dist", "node_id")
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    POC_STAGE_START_BLOCK_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    NONCES_FIELD_NUMBER: _ClassVar[int]
    DIST_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    creator: str
    poc_stage_start_block_height: int
    batch_id: str
    nonces: _containers.RepeatedScalarFieldContainer[int]
    dist: _containers.RepeatedScalarFieldContainer[float]
    node_id: str
    def __init__(self, creator: _Optional[str] = ..., poc_stage_start_block_height: _Optional[int] = ..., batch_id: _Optional[str] = ..., nonces: _Optional[_Iterable[int]] = ..., dist: _Optional[_Iterable[float]] = ..., node_id: _Optional[str] = ...) -> None: ...

class MsgSubmitPocBatchResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MsgSubmitPocValidation(_message.Message):
    __slots__ = ("creator", "participant_address", "poc_stage_start_block_height", "nonces", "dist", "received_dist", "r_target", "fraud_threshold", "n_invalid", "probability_honest", "fraud_detected")
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    POC_STAGE_START_BLOCK_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    NONCES_FIELD_NUMBER: _ClassVar[int]
    DIST_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_DIST_FIELD_NUMBER: _ClassVar[int]
    R_TARGET_FIELD_NUMBER: _ClassVar[int]
    FRAUD_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    N_INVALID_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_HONEST_FIELD_NUMBER: _ClassVar[int]
    FRAUD_DETECTED_FIELD_NUMBER: _ClassVar[int]
    creator: str
    participant_address: str
    poc_stage_start_block_height: int
    nonces: _containers.RepeatedScalarFieldContainer[int]
    dist: _containers.RepeatedScalarFieldContainer[float]
    received_dist: _containers.RepeatedScalarFieldContainer[float]
    r_target: float
    fraud_threshold: float
    n_invalid: int
    probability_honest: float
    fraud_detected: bool
    def __init__(self, creator: _Optional[str] = ..., participant_address: _Optional[str] = ..., poc_stage_start_block_height: _Optional[int] = ..., nonces: _Optional[_Iterable[int]] = ..., dist: _Optional[_Iterable[float]] = ..., received_dist: _Optional[_Iterable[float]] = ..., r_target: _Optional[float] = ..., fraud_threshold: _Optional[float] = ..., n_invalid: _Optional[int] = ..., probability_honest: _Optional[float] = ..., fraud_detected: _Optional[bool] = ...) -> None: ...

class MsgSubmitPocValidationResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MsgClaimRewards(_message.Message):
    __slots__ = ("creator", "seed", "epoch_index")
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    EPOCH_INDEX_FIELD_NUMBER: _ClassVar[int]
    creator: str
    seed: int
    epoch_index: int
    def __init__(self, creator: _Optional[str] = ..., seed: _Optional[int] = ..., epoch_index: _Optional[int] = ...) -> None: ...

class MsgClaimRewardsResponse(_message.Message):
    __slots__ = ("amount", "result")
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    amount: int
    result: str
    def __init__(self, amount: _Optional[int] = ..., result: _Optional[str] = ...) -> None: ...

class MsgStartInference(_message.Message):
    __slots__ = ("creator", "inference_id", "prompt_hash", "prompt_payload", "model", "requested_by", "assigned_to", "node_version", "max_tokens", "prompt_token_count", "request_timestamp", "transfer_signature", "original_prompt")
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    PROMPT_HASH_FIELD_NUMBER: _ClassVar[int]
    PROMPT_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_TO_FIELD_NUMBER: _ClassVar[int]
    NODE_VERSION_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_PROMPT_FIELD_NUMBER: _ClassVar[int]
    creator: str
    inference_id: str
    prompt_hash: str
    prompt_payload: str
    model: str
    requested_by: str
    assigned_to: str
    node_version: str
    max_tokens: int
    prompt_token_count: int
    request_timestamp: int
    transfer_signature: str
    original_prompt: str
    def __init__(self, creator: _Optional[str] = ..., inference_id: _Optional[str] = ..., prompt_hash: _Optional[str] = ..., prompt_payload: _Optional[str] = ..., model: _Optional[str] = ..., requested_by: _Optional[str] = ..., assigned_to: _Optional[str] = ..., node_version: _Optional[str] = ..., max_tokens: _Optional[int] = ..., prompt_token_count: _Optional[int] = ..., request_timestamp: _Optional[int] = ..., transfer_signature: _Optional[str] = ..., original_prompt: _Optional[str] = ...) -> None: ...

class MsgStartInferenceResponse(_message.Message):
    __slots__ = ("inference_index",)
    INFERENCE_INDEX_FIELD_NUMBER: _ClassVar[int]
    inference_index: str
    def __init__(self, inference_index: _Optional[str] = ...) -> None: ...

class MsgFinishInference(_message.Message):
    __slots__ = ("creator", "inference_id", "response_hash", "response_payload", "prompt_token_count", "completion_token_count", "executed_by", "transferred_by", "request_timestamp", "transfer_signature", "executor_signature", "requested_by", "original_prompt", "model")
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    INFERENCE_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_HASH_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    EXECUTED_BY_FIELD_NUMBER: _ClassVar[int]
    TRANSFERRED_BY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_PROMPT_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    creator: str
    inference_id: str
    response_hash: str
    response_payload: str
    prompt_token_count: int
    completion_token_count: int
    executed_by: str
    transferred_by: str
    request_timestamp: int
    transfer_signature: str
    executor_signature: str
    requested_by: str
    original_prompt: str
    model: str
    def __init__(self, creator: _Optional[str] = ..., inference_id: _Optional[str] = ..., response_hash: _Optional[str] = ..., response_payload: _Optional[str] = ..., prompt_token_count: _Optional[int] = ..., completion_token_count: _Optional[int] = ..., executed_by: _Optional[str] = ..., transferred_by: _Optional[str] = ..., request_timestamp: _Optional[int] = ..., transfer_signature: _Optional[str] = ..., executor_signature: _Optional[str] = ..., requested_by: _Optional[str] = ..., original_prompt: _Optional[str] = ..., model: _Optional[str] = ...) -> None: ...

class MsgFinishInferenceResponse(_message.Message):
    __slots__ = ("inference_index",)
    INFERENCE_INDEX_FIELD_NUMBER: _ClassVar[int]
    inference_index: str
    def __init__(self, inference_index: _Optional[str] = ...) -> None: ...
