;; bad_wasi_func.wat
;; Imports a function WASI preview 1 does not have.
(module
  (import "wasi_snapshot_preview1" "open_the_pod_bay_doors" (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "swarm_abi_v1"))
  (func (export "swarm_alloc") (param i32) (result i32) (i32.const 0))
  (func (export "swarm_free") (param i32 i32))
  (func (export "swarm_trust_score") (param i32 i32) (result i64) (i64.const 0))
)
