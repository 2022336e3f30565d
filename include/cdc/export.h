// Symbol visibility for the cdc shared library. Everything public is marked CDC_API;
// everything else is hidden so the ABI is exactly what include/cdc/ declares.
#pragma once

#if defined(CDC_STATIC_DEFINE)
#define CDC_API
#elif defined(_WIN32)
#ifdef CDC_BUILDING
#define CDC_API __declspec(dllexport)
#else
#define CDC_API __declspec(dllimport)
#endif
#else
#define CDC_API __attribute__((visibility("default")))
#endif
