;; bad_signatures.wat
;; Exports the ABI functions with the wrong types.
(module
  (memory (export "memory") 1)
  (func (export "swarm_abi_v1"))
  (func (export "swarm_alloc") (param i64) (result i64) (i64.const 0))
  (func (export "swarm_free") (param i32))
  (func (export "swarm_trust_score") (param i32 i32) (result i32) (i32.const 0))
)
