package metrics

import "maps"

// help is the one-line HELP text of every metric family the package can
// expose: the API's own series, and the Go runtime and process series of the
// VictoriaMetrics library on Linux, macOS and Windows (which it writes with
// an empty HELP). It is the only place these texts are written; the
// exposition, the README's series table and the tests read them from here.
// A family missing from it keeps an empty HELP line, which the tests and
// `promtool check metrics` report.
var help = map[string]string{
	// Requests (Middleware).
	"api_requests_total":           "HTTP requests answered, by method, route template and status code.",
	"api_request_duration_seconds": "Time from receiving a request to the end of its response, by method and route template.",
	"api_requests_in_flight":       "HTTP requests being served now.",

	// Response cache, rate limiter, authentication (hooks).
	"api_cache_hits_total":              "Responses served from the response cache.",
	"api_cache_misses_total":            "Cacheable requests passed to their handler because the cache had no fresh entry.",
	"api_cache_evictions_total":         "Response cache entries evicted for lack of space.",
	"api_cache_errors_total":            "Response cache failures after which the request was served uncached.",
	"api_rate_limit_exceeded_total":     "Requests refused with 429 because a rate-limit quota was used up, by route template.",
	"api_rate_limit_store_errors_total": "Failed or timed-out calls to the rate-limit counter store.",
	"api_auth_failures_total":           "Refused authentications, by reason.",
	"oauth_failures_total":              "Refused OAuth requests, by endpoint and OAuth error code.",
	"api_version_requests_total":        "API requests, by API version (v1, v2).",
	"api_v1_requests_by_key_total":      "Requests to the deprecated API v1, by API key id (who still has to migrate to v2).",

	// Read at scrape time.
	"active_api_keys":              "API keys that are neither revoked nor expired.",
	"api_key_anomalies_open":       "Open API key anomalies (suspicious use found in the audit trail), by rule.",
	"db_pool_open_connections":     "Established database connections, in use or idle.",
	"db_pool_in_use_connections":   "Database connections in use.",
	"db_pool_idle_connections":     "Idle database connections.",
	"db_pool_max_open_connections": "Maximum number of open database connections (0: unlimited).",
	"db_pool_waits_total":          "Waits for a free database connection.",
	"db_pool_wait_seconds_total":   "Time spent waiting for a free database connection.",

	// Go runtime (runtime/metrics and runtime.MemStats).
	"go_info":                             "Go version the binary was built with (label version).",
	"go_info_ext":                         "Go compiler and target of the binary (labels compiler, GOARCH, GOOS, GOROOT).",
	"go_gomaxprocs":                       "GOMAXPROCS: operating system threads that can execute Go code at once.",
	"go_goroutines":                       "Goroutines that currently exist.",
	"go_threads":                          "Operating system threads created by the Go runtime.",
	"go_sched_latencies_seconds":          "Time goroutines spent runnable before they ran.",
	"go_mutex_wait_seconds_total":         "Time goroutines spent blocked on sync.Mutex, sync.RWMutex and runtime locks.",
	"go_gc_duration_seconds":              "Stop-the-world pause durations of garbage collections.",
	"go_gc_pauses_seconds":                "Stop-the-world pause latencies of the garbage collector.",
	"go_gc_cpu_seconds_total":             "CPU time spent by the garbage collector.",
	"go_gc_mark_assist_cpu_seconds_total": "CPU time goroutines spent assisting the garbage collector.",
	"go_scavenge_cpu_seconds_total":       "CPU time spent returning unused memory to the operating system.",
	"go_memlimit_bytes":                   "Go runtime soft memory limit (GOMEMLIMIT).",
	"go_memstats_alloc_bytes":             "Bytes of allocated heap objects.",
	"go_memstats_alloc_bytes_total":       "Bytes allocated for heap objects since the process started.",
	"go_memstats_buck_hash_sys_bytes":     "Bytes of memory in profiling bucket hash tables.",
	"go_memstats_frees_total":             "Heap objects freed since the process started.",
	"go_memstats_gc_cpu_fraction":         "Fraction of available CPU time used by the garbage collector since the process started.",
	"go_memstats_gc_sys_bytes":            "Bytes of memory in garbage collection metadata.",
	"go_memstats_heap_alloc_bytes":        "Bytes of allocated heap objects.",
	"go_memstats_heap_idle_bytes":         "Bytes in idle (unused) heap spans.",
	"go_memstats_heap_inuse_bytes":        "Bytes in in-use heap spans.",
	"go_memstats_heap_objects":            "Allocated heap objects.",
	"go_memstats_heap_released_bytes":     "Bytes of physical memory returned to the operating system.",
	"go_memstats_heap_sys_bytes":          "Bytes of heap memory obtained from the operating system.",
	"go_memstats_last_gc_time_seconds":    "Time the last garbage collection finished, in seconds since the Unix epoch.",
	"go_memstats_lookups_total":           "Pointer lookups performed by the runtime.",
	"go_memstats_mallocs_total":           "Heap objects allocated since the process started.",
	"go_memstats_mcache_inuse_bytes":      "Bytes of allocated mcache structures.",
	"go_memstats_mcache_sys_bytes":        "Bytes of memory obtained from the operating system for mcache structures.",
	"go_memstats_mspan_inuse_bytes":       "Bytes of allocated mspan structures.",
	"go_memstats_mspan_sys_bytes":         "Bytes of memory obtained from the operating system for mspan structures.",
	"go_memstats_next_gc_bytes":           "Heap size target of the next garbage collection.",
	"go_memstats_other_sys_bytes":         "Bytes of memory in miscellaneous off-heap runtime allocations.",
	"go_memstats_stack_inuse_bytes":       "Bytes in goroutine stack spans.",
	"go_memstats_stack_sys_bytes":         "Bytes of stack memory obtained from the operating system.",
	"go_memstats_sys_bytes":               "Total bytes of memory obtained from the operating system.",

	// Process (Linux /proc, or the equivalent on macOS and Windows).
	"process_cpu_seconds_total":                     "User and system CPU time used by the process.",
	"process_cpu_seconds_user_total":                "User CPU time used by the process.",
	"process_cpu_seconds_system_total":              "System CPU time used by the process.",
	"process_major_pagefaults_total":                "Page faults of the process that required loading a page from disk.",
	"process_minor_pagefaults_total":                "Page faults of the process served without loading a page from disk.",
	"process_pagefaults_total":                      "Page faults of the process.",
	"process_num_threads":                           "Operating system threads of the process.",
	"process_start_time_seconds":                    "Start time of the process, in seconds since the Unix epoch.",
	"process_resident_memory_bytes":                 "Resident memory size of the process.",
	"process_resident_memory_peak_bytes":            "Peak resident memory size of the process.",
	"process_resident_memory_anon_bytes":            "Resident anonymous memory of the process.",
	"process_resident_memory_file_bytes":            "Resident file-backed memory of the process.",
	"process_resident_memory_shared_bytes":          "Resident shared memory of the process.",
	"process_virtual_memory_bytes":                  "Virtual memory size of the process.",
	"process_virtual_memory_peak_bytes":             "Peak virtual memory size of the process.",
	"process_virtual_memory_max_bytes":              "Maximum virtual memory available to the process.",
	"process_io_read_bytes_total":                   "Bytes the process read, from storage or not.",
	"process_io_written_bytes_total":                "Bytes the process wrote, to storage or not.",
	"process_io_read_syscalls_total":                "Read system calls of the process.",
	"process_io_write_syscalls_total":               "Write system calls of the process.",
	"process_io_storage_read_bytes_total":           "Bytes the process read from storage.",
	"process_io_storage_written_bytes_total":        "Bytes the process wrote to storage.",
	"process_pressure_cpu_waiting_seconds_total":    "Time some processes of the cgroup waited for CPU (pressure stall information).",
	"process_pressure_cpu_stalled_seconds_total":    "Time all processes of the cgroup were stalled waiting for CPU (pressure stall information).",
	"process_pressure_io_waiting_seconds_total":     "Time some processes of the cgroup waited for I/O (pressure stall information).",
	"process_pressure_io_stalled_seconds_total":     "Time all processes of the cgroup were stalled waiting for I/O (pressure stall information).",
	"process_pressure_memory_waiting_seconds_total": "Time some processes of the cgroup waited for memory (pressure stall information).",
	"process_pressure_memory_stalled_seconds_total": "Time all processes of the cgroup were stalled waiting for memory (pressure stall information).",
	"process_max_fds":                               "Maximum number of open file descriptors of the process.",
	"process_open_fds":                              "Open file descriptors of the process.",
}

// Help returns the HELP text of a metric family the package exposes, or ""
// for a family it does not know.
func Help(family string) string { return help[family] }

// HelpTexts returns a copy of every family's HELP text, keyed by family name.
func HelpTexts() map[string]string { return maps.Clone(help) }
