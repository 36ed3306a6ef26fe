;; bad_abi_v2.wat
;; Marks itself ABI version 2.
(module
  (memory (export "memory") 1)
  (func (export "swarm_abi_v2"))
  (func (export "swarm_alloc") (param i32) (result i32) (i32.const 0))
  (func (export "swarm_free") (param i32 i32))
  (func (export "swarm_trust_score") (param i32 i32) (result i64) (i64.const 0))
)
