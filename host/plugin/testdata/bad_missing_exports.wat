;; bad_missing_exports.wat
;; Has the ABI marker and memory, but no swarm_alloc, swarm_free or operation.
(module
  (memory (export "memory") 1)
  (func (export "swarm_abi_v1"))
)
