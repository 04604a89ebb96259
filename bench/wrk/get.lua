-- GET the URL's path with `Authorization: Bearer $BENCH_TOKEN`.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
