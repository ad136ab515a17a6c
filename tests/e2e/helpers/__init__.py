"""Support code for the rtmp2sip end-to-end tests: ports, processes, the gateway, real peers
(python3-librtmp, ffmpeg, sipp, tshark) and audio checks. See ../README.md."""
