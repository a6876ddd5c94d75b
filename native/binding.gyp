{
  "targets": [
    {
      "target_name": "fastscan",
      "sources": ["fastscan.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
