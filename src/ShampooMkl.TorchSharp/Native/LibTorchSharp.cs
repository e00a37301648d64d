using System.Runtime.InteropServices;

namespace ShampooMkl.TorchSharp.Native;

/// <summary>The few C exports of TorchSharp's native library the adapter calls per step, declared here and nowhere else
/// (the same functions TorchSharp's own <c>NativeMethods</c> declares).</summary>
/// <remarks>TorchSharp has loaded <c>LibTorchSharp</c> by the time any tensor exists, so no loader is needed. Every
/// argument and result is blittable: a call allocates no managed memory, which keeps a steady step at 0 B.
/// A handle returned by <see cref="THSTensor_grad"/> is a new native tensor handle that the caller frees with
/// <see cref="THSTensor_dispose"/>.</remarks>
internal static class LibTorchSharp
{
    private const string Library = "LibTorchSharp";

    /// <summary>A new handle to the tensor's gradient, or zero when the gradient is undefined.</summary>
    [DllImport(Library)]
    public static extern nint THSTensor_grad(nint tensor);

    /// <summary>Frees a tensor handle (not the storage, which other references may keep alive).</summary>
    [DllImport(Library)]
    public static extern void THSTensor_dispose(nint tensor);

    /// <summary>The address of the tensor's first element (storage offset included).</summary>
    [DllImport(Library)]
    public static extern nint THSTensor_data(nint tensor);

    /// <summary>Whether the tensor is contiguous in row-major order.</summary>
    [DllImport(Library)]
    [return: MarshalAs(UnmanagedType.U1)]
    public static extern bool THSTensor_is_contiguous(nint tensor);

    /// <summary>The tensor's element type as a TorchSharp <c>ScalarType</c> code.</summary>
    [DllImport(Library)]
    public static extern sbyte THSTensor_type(nint tensor);

    /// <summary>The tensor's device as a TorchSharp <c>DeviceType</c> code.</summary>
    [DllImport(Library)]
    public static extern int THSTensor_device_type(nint tensor);

    /// <summary>The tensor's element count.</summary>
    [DllImport(Library)]
    public static extern long THSTensor_numel(nint tensor);
}
