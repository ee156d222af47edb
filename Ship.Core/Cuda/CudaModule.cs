using System.Runtime.InteropServices;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Ship.Core.Cuda;

/// <summary>
/// CUDA C kernels compiled at run time with NVRTC and launched through the CUDA driver on libtorch's own context and
/// default stream. The build machines have no CUDA toolchain and no CUDA build of TorchSharp, but a GPU machine with
/// PyTorch has the driver and (usually) NVRTC: fused kernels are an optional fast path, and every caller keeps a
/// torch-op fallback for when <see cref="TryCompile"/> returns null.
/// </summary>
public sealed class CudaModule
{
    private readonly Driver _drv;
    private readonly IntPtr _module;
    private readonly Dictionary<string, IntPtr> _functions = new(StringComparer.Ordinal);
    private readonly object _lock = new();

    private CudaModule(Driver drv, IntPtr module)
    {
        _drv = drv;
        _module = module;
    }

    /// <summary>
    /// Compiles <paramref name="source"/> for the current GPU and loads it; null (with the reason in
    /// <paramref name="why"/>) where no driver, no NVRTC or no GPU is found or the compilation fails.
    /// </summary>
    public static CudaModule? TryCompile(string source, string name, out string why)
    {
        ArgumentNullException.ThrowIfNull(source);
        try
        {
            if (!torch.cuda.is_available()) { why = "CUDA is not available to libtorch"; return null; }
            var drv = Driver.Load(out why);
            if (drv is null) return null;
            var nvrtc = Nvrtc.Load(out why);
            if (nvrtc is null) return null;
            drv.MakeTorchContextCurrent();
            drv.Check(drv.DeviceGetAttribute(out int major, 75, drv.Device), "cuDeviceGetAttribute");
            drv.Check(drv.DeviceGetAttribute(out int minor, 76, drv.Device), "cuDeviceGetAttribute");
            var ptx = nvrtc.Compile(source, name, new[] { $"--gpu-architecture=compute_{major}{minor}", "--fmad=false", "-default-device" }, out why);
            if (ptx is null) return null;
            drv.Check(drv.ModuleLoadData(out var module, ptx), "cuModuleLoadData");
            why = $"compiled for compute_{major}{minor}";
            return new CudaModule(drv, module);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or InvalidOperationException or ExternalException)
        {
            why = e.Message;
            return null;
        }
    }

    /// <summary>
    /// Launches kernel <paramref name="function"/> on libtorch's default stream, so it is ordered with the torch ops
    /// around it; arguments are tensors (passed as device pointers, must be contiguous CUDA tensors), int, long, float
    /// or double.
    /// </summary>
    public void Launch(string function, long threads, int blockSize, params object[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (threads <= 0) return;
        IntPtr fn;
        lock (_lock)
        {
            if (!_functions.TryGetValue(function, out fn))
            {
                _drv.Check(_drv.ModuleGetFunction(out fn, _module, function), $"cuModuleGetFunction({function})");
                _functions[function] = fn;
            }
        }
        _drv.MakeTorchContextCurrent();
        var slots = new IntPtr[args.Length];
        var cells = Marshal.AllocHGlobal(8 * Math.Max(1, args.Length));
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                var cell = cells + 8 * i;
                switch (args[i])
                {
                    case Tensor t:
                        if (t.device.type != DeviceType.CUDA || !t.is_contiguous())
                            throw new ArgumentException($"kernel {function}: argument {i} must be a contiguous CUDA tensor, got {t.device} {(t.is_contiguous() ? "" : "non-contiguous")}");
                        Marshal.WriteIntPtr(cell, Memory.NativeTensor.DataPointer(t));
                        break;
                    case int v: Marshal.WriteInt32(cell, v); break;
                    case long v: Marshal.WriteInt64(cell, v); break;
                    case float v: Marshal.WriteInt32(cell, BitConverter.SingleToInt32Bits(v)); break;
                    case double v: Marshal.WriteInt64(cell, BitConverter.DoubleToInt64Bits(v)); break;
                    default: throw new ArgumentException($"kernel {function}: argument {i} has unsupported type {args[i]?.GetType().Name ?? "null"}");
                }
                slots[i] = cell;
            }
            uint grid = checked((uint)((threads + blockSize - 1) / blockSize));
            _drv.Check(_drv.LaunchKernel(fn, grid, 1, 1, (uint)blockSize, 1, 1, 0, IntPtr.Zero, slots, IntPtr.Zero), $"cuLaunchKernel({function})");
        }
        finally
        {
            Marshal.FreeHGlobal(cells);
        }
    }

    /// <summary>The few driver entry points needed, resolved from libcuda at run time.</summary>
    private sealed class Driver
    {
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] public delegate int InitFn(uint flags);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] public delegate int DeviceGetFn(out int device, int ordinal);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] public delegate int DeviceGetAttributeFn(out int value, int attribute, int device);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] public delegate int PrimaryCtxRetainFn(out IntPtr ctx, int device);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] public delegate int CtxSetCurrentFn(IntPtr ctx);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] public delegate int ModuleLoadDataFn(out IntPtr module, byte[] image);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl, CharSet = CharSet.Ansi)] public delegate int ModuleGetFunctionFn(out IntPtr fn, IntPtr module, [MarshalAs(UnmanagedType.LPStr)] string name);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] public delegate int LaunchKernelFn(IntPtr f, uint gx, uint gy, uint gz, uint bx, uint by, uint bz, uint shared, IntPtr stream, IntPtr[] args, IntPtr extra);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] public delegate int GetErrorStringFn(int error, out IntPtr text);

        public required DeviceGetAttributeFn DeviceGetAttribute { get; init; }
        public required ModuleLoadDataFn ModuleLoadData { get; init; }
        public required ModuleGetFunctionFn ModuleGetFunction { get; init; }
        public required LaunchKernelFn LaunchKernel { get; init; }
        public required CtxSetCurrentFn CtxSetCurrent { get; init; }
        public required GetErrorStringFn GetErrorString { get; init; }
        public IntPtr Context { get; init; }
        public int Device { get; init; }

        public static Driver? Load(out string why)
        {
            IntPtr lib = IntPtr.Zero;
            if (!NativeLibrary.TryLoad("libcuda.so.1", out lib) && !NativeLibrary.TryLoad("libcuda.so", out lib) && !NativeLibrary.TryLoad("nvcuda.dll", out lib))
            {
                why = "the CUDA driver library (libcuda) was not found";
                return null;
            }
            T Get<T>(string name) where T : Delegate => Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(lib, name));
            var init = Get<InitFn>("cuInit");
            var deviceGet = Get<DeviceGetFn>("cuDeviceGet");
            var retain = Get<PrimaryCtxRetainFn>("cuDevicePrimaryCtxRetain");
            var errorString = Get<GetErrorStringFn>("cuGetErrorString");
            int rc = init(0);
            int device = 0;
            IntPtr context = IntPtr.Zero;
            if (rc == 0) rc = deviceGet(out device, 0);
            if (rc == 0) rc = retain(out context, device);
            if (rc != 0)
            {
                why = $"the CUDA driver did not start (error {rc})";
                return null;
            }
            why = "";
            return new Driver
            {
                DeviceGetAttribute = Get<DeviceGetAttributeFn>("cuDeviceGetAttribute"),
                ModuleLoadData = Get<ModuleLoadDataFn>("cuModuleLoadData"),
                ModuleGetFunction = Get<ModuleGetFunctionFn>("cuModuleGetFunction"),
                LaunchKernel = Get<LaunchKernelFn>("cuLaunchKernel"),
                CtxSetCurrent = Get<CtxSetCurrentFn>("cuCtxSetCurrent"),
                GetErrorString = errorString,
                Context = context,
                Device = device,
            };
        }

        /// <summary>libtorch works in the device's primary context; driver calls from this thread must use it too.</summary>
        public void MakeTorchContextCurrent() => Check(CtxSetCurrent(Context), "cuCtxSetCurrent");

        public void Check(int rc, string what)
        {
            if (rc == 0) return;
            string text = GetErrorString(rc, out var p) == 0 && p != IntPtr.Zero ? Marshal.PtrToStringAnsi(p) ?? "" : "";
            throw new InvalidOperationException($"{what} failed with CUDA error {rc} {text}");
        }
    }

    /// <summary>The NVRTC entry points, resolved at run time from the CUDA toolkit or PyTorch's bundled copy.</summary>
    private sealed class Nvrtc
    {
        [UnmanagedFunctionPointer(CallingConvention.Cdecl, CharSet = CharSet.Ansi)] private delegate int CreateFn(out IntPtr prog, [MarshalAs(UnmanagedType.LPStr)] string src, [MarshalAs(UnmanagedType.LPStr)] string name, int headers, IntPtr sources, IntPtr names);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl, CharSet = CharSet.Ansi)] private delegate int CompileFn(IntPtr prog, int count, [MarshalAs(UnmanagedType.LPArray, ArraySubType = UnmanagedType.LPStr)] string[] options);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate int SizeFn(IntPtr prog, out UIntPtr size);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate int GetFn(IntPtr prog, byte[] buffer);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate int DestroyFn(ref IntPtr prog);

        private CreateFn _create = null!;
        private CompileFn _compile = null!;
        private SizeFn _logSize = null!, _ptxSize = null!;
        private GetFn _log = null!, _ptx = null!;
        private DestroyFn _destroy = null!;

        public static Nvrtc? Load(out string why)
        {
            var candidates = new List<string>();
            if (Environment.GetEnvironmentVariable("SHIP_NVRTC") is { Length: > 0 } env) candidates.Add(env);
            candidates.AddRange(new[] { "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so" });
            foreach (var root in new[] { "/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib" }
                         .Concat(SafeDirs("/usr/local", "cuda-*").SelectMany(d => new[] { Path.Combine(d, "lib64"), Path.Combine(d, "targets", "x86_64-linux", "lib") })))
                candidates.AddRange(new[] { "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so" }.Select(f => Path.Combine(root, f)));
            foreach (var c in candidates)
            {
                if (!NativeLibrary.TryLoad(c, out var lib)) continue;
                T Get<T>(string name) where T : Delegate => Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(lib, name));
                why = "";
                return new Nvrtc
                {
                    _create = Get<CreateFn>("nvrtcCreateProgram"),
                    _compile = Get<CompileFn>("nvrtcCompileProgram"),
                    _logSize = Get<SizeFn>("nvrtcGetProgramLogSize"),
                    _log = Get<GetFn>("nvrtcGetProgramLog"),
                    _ptxSize = Get<SizeFn>("nvrtcGetPTXSize"),
                    _ptx = Get<GetFn>("nvrtcGetPTX"),
                    _destroy = Get<DestroyFn>("nvrtcDestroyProgram"),
                };
            }
            why = "NVRTC (libnvrtc) was not found; set SHIP_NVRTC to its path";
            return null;
        }

        private static IEnumerable<string> SafeDirs(string root, string pattern)
        {
            try { return Directory.Exists(root) ? Directory.GetDirectories(root, pattern) : Array.Empty<string>(); }
            catch (IOException) { return Array.Empty<string>(); }
            catch (UnauthorizedAccessException) { return Array.Empty<string>(); }
        }

        public byte[]? Compile(string source, string name, string[] options, out string why)
        {
            if (_create(out var prog, source, name, 0, IntPtr.Zero, IntPtr.Zero) != 0) { why = "nvrtcCreateProgram failed"; return null; }
            try
            {
                int rc = _compile(prog, options.Length, options);
                if (rc != 0)
                {
                    _logSize(prog, out var ls);
                    var log = new byte[(int)ls];
                    _log(prog, log);
                    why = $"NVRTC compilation failed ({rc}): {Encoding.ASCII.GetString(log).TrimEnd('\0')}";
                    return null;
                }
                _ptxSize(prog, out var size);
                var ptx = new byte[(int)size];
                _ptx(prog, ptx);
                why = "";
                return ptx;
            }
            finally
            {
                _destroy(ref prog);
            }
        }
    }
}
