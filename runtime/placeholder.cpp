// replaced by the runtime
